import { Type, type Static } from 'typebox';
import { testClockIdPattern } from '../../core/ids.js';
import { pageQueryFields } from '../../http/pagination.js';

export const TestClockIdParams = Type.Object({
  clock_id: Type.String({
    pattern: testClockIdPattern,
    description: 'Test clock ID',
    examples: ['clk_0123456789abcdef'],
  }),
});

export const CreateTestClockBody = Type.Object(
  {
    frozen_time: Type.String({
      format: 'date-time',
      description: "RFC 3339: the clock's time, until an advance moves it",
      examples: ['2026-01-01T00:00:00Z'],
    }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['annual renewal scenario'] })),
  },
  { additionalProperties: false },
);
export type CreateTestClockInput = Static<typeof CreateTestClockBody>;

export const AdvanceTestClockBody = Type.Object(
  {
    to: Type.String({
      format: 'date-time',
      description: 'RFC 3339: after the frozen time, and at most two years after it',
      examples: ['2026-02-01T00:00:00Z'],
    }),
  },
  { additionalProperties: false },
);

export const ListTestClocksQuery = Type.Object({ ...pageQueryFields }, { additionalProperties: false });

export const TestClockSchema = Type.Object(
  {
    id: Type.String({ examples: ['clk_0123456789abcdef'] }),
    name: Type.Union([Type.String(), Type.Null()], { examples: ['annual renewal scenario'] }),
    frozen_time: Type.String({
      description: "The clock's time: its tenants live at it",
      examples: ['2026-01-01T00:00:00Z'],
    }),
    status: Type.Union([Type.Literal('ready'), Type.Literal('advancing')]),
    advancing_to: Type.Union([Type.String(), Type.Null()], {
      description: 'While advancing: the time the advance goes to',
      examples: [null],
    }),
    created_at: Type.String({ examples: ['2026-04-01T00:00:00Z'] }),
    updated_at: Type.String({ examples: ['2026-04-01T00:00:00Z'] }),
  },
  { $id: 'TestClock' },
);
export type TestClockView = Static<typeof TestClockSchema>;

export const TestClockAdvanceSchema = Type.Object({
  test_clock: Type.Ref('TestClock'),
  from: Type.String({ description: 'The frozen time the advance started from' }),
  to: Type.String(),
  steps: Type.Integer({ description: 'Instants the advance ran the due work at' }),
  subscriptions: Type.Integer({ description: 'Subscription advances by the billing run, summed over the steps' }),
  settled_days: Type.Integer({ description: 'Pay-as-you-go tenant-days settled' }),
  alerts_fired: Type.Integer(),
  failures: Type.Array(
    Type.Object({
      step: Type.String(),
      tenant_id: Type.String(),
      subscription_id: Type.Union([Type.String(), Type.Null()]),
      error: Type.String(),
    }),
    { description: 'Work that failed at a step and was tried again at the next' },
  ),
});
export type TestClockAdvanceView = Static<typeof TestClockAdvanceSchema>;

export const DeletedTestClockSchema = Type.Object({
  id: Type.String(),
  deleted: Type.Literal(true),
  deleted_tenants: Type.Array(Type.String(), {
    description: 'The tenants deleted with the clock, with all their data',
  }),
});
