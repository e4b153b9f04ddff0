/** Custom domains (issue 11.4): what `zectre domains` sends to and gets from /api/v1/projects/:project/domains. */
import { z } from 'zod';

export const DOMAIN_STATUSES = ['pending', 'issuing', 'active', 'failed'] as const;
export type DomainStatus = (typeof DOMAIN_STATUSES)[number];

/** A DNS name a CA will certify: 2+ labels of letters, digits and inner dashes, no wildcard, no IP address. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
export function hostnameProblem(hostname: string): string | null {
  if (hostname.length > 253) return 'is longer than 253 characters';
  const labels = hostname.split('.');
  if (labels.length < 2) return 'needs at least two labels, e.g. www.example.com';
  if (labels.some((l) => !LABEL.test(l))) return 'has a label that is not 1-63 lowercase letters, digits and inner dashes (wildcards are not supported)';
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return 'is an IP address; certificates are issued for DNS names';
  return null;
}

export const AddDomain = z.object({
  hostname: z
    .string()
    .max(253)
    .transform((h) => h.trim().toLowerCase().replace(/\.$/, ''))
    .superRefine((h, ctx) => {
      const problem = hostnameProblem(h);
      if (problem) ctx.addIssue({ code: 'custom', message: `"${h}" is not a valid host name: it ${problem}` });
    }),
});
export type AddDomain = z.infer<typeof AddDomain>;

export interface DomainView {
  hostname: string;
  status: DomainStatus;
  /** Progress or the CA's reason for a failure; empty when there is nothing to say. */
  message: string;
  notAfter: string | null;
  renewAfter: string | null;
  createdAt: string;
  updatedAt: string;
}
