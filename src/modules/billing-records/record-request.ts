import type { TenantTransaction } from '../tenant-context.js';

/** A write to one record of the tenant, and who makes it (the actor its history records). */
export interface RecordRequest extends TenantTransaction {
  recordId: string;
  actor: string;
}
