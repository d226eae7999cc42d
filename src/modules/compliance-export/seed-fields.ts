/**
 * The fields of each kind in the export, exactly as the seed's DTOs list them: the export carries
 * these and nothing else, whatever the other endpoints add.
 */
export const exportFields = {
  subscription: [
    'admin_user_id',
    'amount',
    'auto_renew',
    'billing_cycle',
    'cancel_at_period_end',
    'currency',
    'current_period_end',
    'current_period_start',
    'grace_period_days',
    'plan_id',
    'status',
    'tenant_id',
    'trial_end_date',
  ],
  billingRecord: [
    'amount',
    'app_id',
    'created_at',
    'currency',
    'description',
    'invoice_number',
    'line_items',
    'record_id',
    'status',
    'tenant_id',
    'type',
  ],
  lineItem: ['amount', 'description', 'quantity', 'resource_type', 'tax_amount', 'tax_rate', 'unit_price'],
  creditBalance: ['balance', 'currency', 'tenant_id', 'updated_at'],
  creditTransaction: ['amount', 'balance', 'created_at', 'id', 'remark', 'source', 'source_id', 'tenant_id', 'type'],
  usageStats: [
    'api_requests',
    'bandwidth_used',
    'date',
    'failed_logins',
    'login_attempts',
    'mfa_verifications',
    'storage_used',
    'user_count',
  ],
  usageAlert: [
    'app_id',
    'created_at',
    'id',
    'last_triggered_at',
    'name',
    'notification_channels',
    'resource_type',
    'status',
    'tenant_id',
    'threshold_percent',
    'updated_at',
  ],
  meteringRecord: [
    'included_units',
    'overage_amount',
    'overage_units',
    'period_end',
    'period_start',
    'resource_type',
    'status',
    'total_usage',
  ],
} as const;

/** The object with exactly these fields, in this order. */
export const pick = <T extends Record<string, unknown>>(value: T, fields: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(fields.map((field) => [field, value[field]]));
