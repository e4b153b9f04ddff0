/** Debian's chromium for the browser suites, started as this machine needs it (closed network, root). */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const LAUNCH = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  // Without the background-networking flags chromium keeps trying hosts this network refuses.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
};
export const VIEWPORT = { width: 1200, height: 900 };

/** A browser for several contexts (people) at once. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch(LAUNCH);
}

/** One persistent profile in `profileDir` and its page; dialogs (confirm prompts) are accepted. */
export async function openPage(profileDir: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(profileDir, { ...LAUNCH, viewport: VIEWPORT });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => void d.accept());
  return { context, page };
}
