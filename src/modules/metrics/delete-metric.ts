import { AppError, notFound } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';
import type { Db } from '../../db/database.js';
import { metricInUse } from './metric-rules.js';
import { lockMetric } from './repository.js';

/** Removes a metric nothing uses; one in use stays (its usage and invoices name it). */
export const deleteMetric = async (db: Db, code: string): Promise<Result<{ code: string }>> =>
  db.transaction().execute(async (trx) => {
    const locked = await lockMetric(trx, code);
    if (locked === undefined) return fail(notFound(`metric ${code}`));
    if (locked.built_in) return fail(new AppError('conflict', `${code} is a built-in metric and cannot be deleted`));
    if (locked.in_use) return fail(metricInUse(code, 'it stays'));
    await trx.deleteFrom('billable_metrics').where('code', '=', code).execute();
    return ok({ code });
  });
