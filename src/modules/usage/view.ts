import { resourceTypes } from '../../core/resources.js';
import type { DayStats } from './get-usage-stats.js';

export const toDayStatsView = (day: DayStats) => ({
  date: day.date,
  ...Object.fromEntries(resourceTypes.map((type) => [type, Number(day[type])])),
  metrics: Object.fromEntries(Object.entries(day.metrics).map(([code, quantity]) => [code, Number(quantity)])),
});
