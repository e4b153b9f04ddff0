/** Workers runtime types imported as a module, so Node and Worker code type-check in one program. */
export type {
  DurableObjectNamespace,
  DurableObjectState,
  DurableObjectStub,
  ExecutionContext,
  Fetcher,
  R2Bucket,
  ScheduledController,
} from '@cloudflare/workers-types/index.ts';
