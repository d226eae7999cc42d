import { notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { PaymentMethod } from '../../db/schema.js';
import type { TenantRequest } from '../tenant-context.js';
import { lockUpToDateSubscription } from './advance-subscription.js';
import type { SubscriptionRow } from './repository.js';
import { transition } from './transition.js';

export interface SubscriptionSettingsInput {
  auto_renew?: boolean | undefined;
  payment_method?: PaymentMethod | undefined;
}

/** Renewal on or off (off: the subscription expires at period end) and the payment method for what credit does not cover. */
export const updateSubscriptionSettings = async ({
  trx,
  clock,
  scope,
  input,
  actor,
}: TenantRequest<SubscriptionSettingsInput>): Promise<Result<SubscriptionRow>> => {
  const sub = await lockUpToDateSubscription(trx, scope, clock.now());
  if (sub === undefined) return fail(notFound('live subscription'));
  const patch = {
    ...(input.auto_renew === undefined ? {} : { auto_renew: input.auto_renew }),
    ...(input.payment_method === undefined ? {} : { payment_method: input.payment_method }),
  };
  return ok(await transition({ trx, scope, sub, patch, event: { kind: 'updated', actor }, at: clock.now() }));
};
