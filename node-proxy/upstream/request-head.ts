/** How the upstream body is framed: a Content-Length, chunked coding the proxy writes, or no body. */
export type Framing = number | 'chunked' | null;

/**
 * The request line and headers for the upstream, in the one string the connection writes. The
 * framing header is written here from what the proxy knows of the body, never copied from the
 * client, so every request the app reads has exactly the body the proxy sends.
 */
export function requestHead(method: string, url: string, headers: Record<string, string>, framing: Framing = null): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  if (framing === 'chunked') head += 'transfer-encoding: chunked\r\n';
  else if (framing !== null) head += `content-length: ${framing}\r\n`;
  return `${head}\r\n`;
}
