import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlyEvent } from '../../testing/billing-events.js';
import { asPlatformAdmin, asService, asTenantAdmin, asTenantViewer } from '../../testing/api.js';
import { expectData, expectError, expectInvalid } from '../../testing/envelopes.js';
import { givenTenant } from '../../testing/fixtures.js';
import { createTestApp, type TestApp } from '../../testing/test-app.js';
import type { TenantView } from '../../testing/views.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const createTenant = async (payload: Record<string, unknown>) => asPlatformAdmin(t).post('/admin/tenants', payload);

const errorOf = (body: string) =>
  JSON.parse(body) as {
    code: number;
    message: string;
    error: { type: string; details: { in?: string; parameter?: string }[] };
  };

describe('POST /admin/tenants', () => {
  it('creates a tenant with the documented defaults', async () => {
    const response = await createTenant({ tenant_id: 'tnt_defaults', name: 'Acme', admin_user_id: 'usr_abc123' });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({
      code: 201,
      message: 'ok',
      data: {
        tenant_id: 'tnt_defaults',
        name: 'Acme',
        currency: 'CNY',
        time_zone: 'Asia/Shanghai',
        tax_rate: 0.06,
        payment_terms_days: 0,
        admin_user_id: 'usr_abc123',
        status: 'active',
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:00Z',
        test_clock_id: null,
        billing_profile: { legal_name: null, address: null, tax_id: null, email: null },
        locale: 'zh-CN',
      },
      timestamp: '2026-01-01T00:00:00Z',
    });
  });

  it('generates an id when none is given and canonicalises the time zone', async () => {
    const response = await createTenant({
      name: 'Generated',
      admin_user_id: 'usr_gen',
      currency: 'JPY',
      time_zone: 'asia/tokyo',
      tax_rate: 0.1,
    });
    expect(response.statusCode).toBe(201);
    const { data } = response.json<{ data: Record<string, unknown> }>();
    expect(data.tenant_id).toMatch(/^tnt_[a-z0-9]{16}$/);
    // A tenant billing in anything but CNY gets English documents unless told.
    expect(data).toMatchObject({ currency: 'JPY', time_zone: 'Asia/Tokyo', tax_rate: 0.1, locale: 'en' });
  });

  it('refuses a duplicate id with 409', async () => {
    await givenTenant(t, 'tnt_dup');
    const response = await createTenant({ tenant_id: 'tnt_dup', name: 'Again', admin_user_id: 'usr_x' });
    expect(response.statusCode).toBe(409);
    expect(errorOf(response.body).error.type).toBe('conflict');
  });

  it.each([
    [{ name: 'X', admin_user_id: 'usr_x', currency: 'XXX' }, 'currency'],
    [{ name: 'X', admin_user_id: 'usr_x', currency: 'cny' }, 'currency'],
    [{ name: 'X', admin_user_id: 'usr_x', time_zone: 'Mars/Olympus' }, 'time_zone'],
    [{ name: 'X', admin_user_id: 'usr_x', tax_rate: 1 }, 'tax_rate'],
    [{ name: 'X', admin_user_id: 'usr_x', tax_rate: -0.1 }, 'tax_rate'],
    [{ name: 'X', admin_user_id: 'usr_x', tax_rate: 0.0000001 }, 'tax_rate'],
    [{ name: 'X', admin_user_id: 'usr_x', tax_rate: '0.06' }, 'tax_rate'],
    [{ name: '', admin_user_id: 'usr_x' }, 'name'],
    [{ admin_user_id: 'usr_x' }, 'name'],
    [{ name: 'X' }, 'admin_user_id'],
    [{ name: 'X', admin_user_id: 'usr_x', tenant_id: 'acme' }, 'tenant_id'],
    [{ name: 'X', admin_user_id: 'usr_x', plan: 'pro' }, 'plan'],
  ])('refuses %j naming %s', async (payload, parameter) => {
    const response = await createTenant(payload);
    expect(response.statusCode, response.body).toBe(400);
    const body = errorOf(response.body);
    expect(body.error.type).toBe('validation_error');
    expect(body.error.details[0]).toMatchObject({ in: 'body', parameter });
    expect(body.message).toContain(parameter);
  });

  it('refuses malformed JSON and a non-object body with 400', async () => {
    const options = { headers: { 'content-type': 'application/json' } };
    const malformed = await asPlatformAdmin(t).post('/admin/tenants', '{"name":', options);
    expect(malformed.statusCode).toBe(400);
    const array = await asPlatformAdmin(t).post('/admin/tenants', '[]', options);
    expect(array.statusCode).toBe(400);
  });
});

describe('GET /admin/tenants', () => {
  it('pages newest first with the seed PageInfo and filters by admin', async () => {
    for (const [index, id] of ['tnt_page1', 'tnt_page2', 'tnt_page3'].entries()) {
      t.clock.set(`2026-02-0${index + 1}T00:00:00Z`);
      await givenTenant(t, id, { admin_user_id: 'usr_pager' });
    }
    const admin = asPlatformAdmin(t);
    const first = await admin.get('/admin/tenants?admin_user_id=usr_pager&page_size=2');
    expect(first.statusCode).toBe(200);
    const body = first.json<{ items: { tenant_id: string }[]; pagination: unknown; total: number }>();
    expect(body.items.map((item) => item.tenant_id)).toEqual(['tnt_page3', 'tnt_page2']);
    expect(body.total).toBe(3);
    expect(body.pagination).toEqual({
      page: 1,
      page_size: 2,
      total: 3,
      total_pages: 2,
      has_next: true,
      has_prev: false,
    });
    const second = await admin.get('/admin/tenants?admin_user_id=usr_pager&page_size=2&page=2');
    expect(second.json<{ items: { tenant_id: string }[] }>().items.map((item) => item.tenant_id)).toEqual([
      'tnt_page1',
    ]);
  });

  it.each([
    'page=0',
    'page=-1',
    'page=1.5',
    'page=abc',
    'page_size=0',
    'page_size=101',
    'page=1&page=2',
    'status=gone',
  ])('refuses %s with 400 naming the parameter', async (query) => {
    const response = await asPlatformAdmin(t).get(`/admin/tenants?${query}`);
    expect(response.statusCode, response.body).toBe(400);
    const body = errorOf(response.body);
    expect(body.error.details[0]).toMatchObject({ in: 'query', parameter: query.split('=')[0] });
  });
});

describe('PATCH /admin/tenants/:tenant_id and GET /billing/tenants/:tenant_id', () => {
  it('updates settings and the tenant admin sees them', async () => {
    await givenTenant(t, 'tnt_patch');
    t.clock.set('2026-03-01T12:00:00Z');
    const patched = await asPlatformAdmin(t).patch('/admin/tenants/tnt_patch', {
      name: 'Renamed',
      currency: 'USD',
      time_zone: 'Europe/Berlin',
      tax_rate: 0.19,
      admin_user_id: 'usr_new',
    });
    expect(patched.statusCode, patched.body).toBe(200);
    const read = await asTenantViewer(t, 'tnt_patch').get('/billing/tenants/tnt_patch');
    expect(read.json<{ data: unknown }>().data).toMatchObject({
      name: 'Renamed',
      currency: 'USD',
      time_zone: 'Europe/Berlin',
      tax_rate: 0.19,
      admin_user_id: 'usr_new',
      updated_at: '2026-03-01T12:00:00Z',
    });
  });

  it('refuses an empty patch, an unknown field and an unknown tenant', async () => {
    const admin = asPlatformAdmin(t);
    const empty = await admin.patch('/admin/tenants/tnt_patch', {});
    expect(empty.statusCode).toBe(400);
    const unknown = await admin.patch('/admin/tenants/tnt_patch', { plan: 'x' });
    expect(unknown.statusCode).toBe(400);
    expect(errorOf(unknown.body).error.details[0]?.parameter).toBe('plan');
    const missing = await admin.patch('/admin/tenants/tnt_nobody', { name: 'x' });
    expect(missing.statusCode).toBe(404);
  });

  it('a platform admin reading an unknown tenant gets 404; a bad id gets 400', async () => {
    const admin = asPlatformAdmin(t);
    expect((await admin.get('/billing/tenants/tnt_nobody')).statusCode).toBe(404);
    const bad = await admin.get('/billing/tenants/acme');
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad.body).error.details[0]).toMatchObject({ in: 'path', parameter: 'tenant_id' });
  });
});

describe('PUT /internal/billing/tenants/:tenant_id', () => {
  it('creates on first sync, updates after, and keeps settings it was not sent', async () => {
    const service = asService(t);
    const first = await service.put('/internal/billing/tenants/tnt_synced', {
      name: 'Synced',
      admin_user_id: 'usr_s',
      currency: 'EUR',
    });
    expect(first.statusCode, first.body).toBe(201);
    const again = await service.put('/internal/billing/tenants/tnt_synced', {
      name: 'Synced 2',
      admin_user_id: 'usr_s',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json<{ data: unknown }>().data).toMatchObject({
      name: 'Synced 2',
      currency: 'EUR',
      tenant_id: 'tnt_synced',
    });
  });

  it('serialises concurrent first syncs of one tenant into one create', async () => {
    const service = asService(t);
    const responses = await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        service.put('/internal/billing/tenants/tnt_race', { name: `Race ${index}`, admin_user_id: 'usr_r' }),
      ),
    );
    const statuses = responses.map((response) => response.statusCode).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 201]);
  });
});

describe('billing profile and locale', () => {
  const profile = {
    legal_name: '上海示例科技有限公司',
    address: '上海市浦东新区世纪大道 1 号\r\nShanghai 200120',
    tax_id: '91310000MA1FL0000X',
    email: 'billing@acme.example',
  };
  const emptyProfile = { legal_name: null, address: null, tax_id: null, email: null };

  it('is set on create, shown to the tenant, and locale may differ from the currency default', async () => {
    const created = expectData<TenantView>(
      await createTenant({
        tenant_id: 'tnt_profiled',
        name: 'Profiled',
        admin_user_id: 'usr_p',
        billing_profile: profile,
        locale: 'en',
      }),
      201,
    );
    expect(created).toMatchObject({ currency: 'CNY', billing_profile: profile, locale: 'en' });
    const read = expectData<TenantView>(await asTenantViewer(t, 'tnt_profiled').get('/billing/tenants/tnt_profiled'));
    expect(read.billing_profile).toEqual(profile);
    expect(read.locale).toBe('en');
    // Fields left out are null.
    const partial = expectData<TenantView>(
      await createTenant({ name: 'Partial', admin_user_id: 'usr_p', billing_profile: { email: profile.email } }),
      201,
    );
    expect(partial.billing_profile).toEqual({ ...emptyProfile, email: profile.email });
  });

  it('PATCH sets the fields given, clears those given as null, keeps the others, and tells tenant.updated', async () => {
    await givenTenant(t, 'tnt_profile_patch', { billing_profile: profile, currency: 'USD' });
    const admin = asPlatformAdmin(t);
    const patched = expectData<TenantView>(
      await admin.patch('/admin/tenants/tnt_profile_patch', {
        billing_profile: { email: 'ap@acme.example', tax_id: null },
        locale: 'zh-CN',
      }),
    );
    expect(patched.billing_profile).toEqual({ ...profile, email: 'ap@acme.example', tax_id: null });
    expect(patched.locale).toBe('zh-CN');
    const event = await onlyEvent(t, 'tnt_profile_patch', 'tenant.updated');
    expect(event.data).toEqual(patched);

    // Other fields alone leave the profile and the locale as they were; so does a currency change.
    const renamed = expectData<TenantView>(
      await admin.patch('/admin/tenants/tnt_profile_patch', { name: 'Renamed', currency: 'CNY' }),
    );
    expect(renamed).toMatchObject({ billing_profile: patched.billing_profile, locale: 'zh-CN', currency: 'CNY' });
    const cleared = expectData<TenantView>(
      await admin.patch('/admin/tenants/tnt_profile_patch', {
        billing_profile: { legal_name: null, address: null, tax_id: null, email: null },
      }),
    );
    expect(cleared.billing_profile).toEqual(emptyProfile);
  });

  it('the sync creates with a profile and applies a partial one to an existing tenant', async () => {
    const service = asService(t);
    const url = '/internal/billing/tenants/tnt_profile_sync';
    const first = expectData<TenantView>(
      await service.put(url, { name: 'S', admin_user_id: 'usr_s', currency: 'EUR', billing_profile: profile }),
      201,
    );
    expect(first).toMatchObject({ billing_profile: profile, locale: 'en' });
    const again = expectData<TenantView>(
      await service.put(url, { name: 'S', admin_user_id: 'usr_s', billing_profile: { email: null } }),
    );
    expect(again).toMatchObject({ billing_profile: { ...profile, email: null }, locale: 'en' });
    const relocalised = expectData<TenantView>(
      await service.put(url, { name: 'S', admin_user_id: 'usr_s', locale: 'zh-CN' }),
    );
    expect(relocalised).toMatchObject({ billing_profile: { ...profile, email: null }, locale: 'zh-CN' });
  });

  it('counts characters, not bytes: 200 Chinese characters are a valid legal name', async () => {
    const name = '汉'.repeat(200);
    const created = expectData<TenantView>(
      await createTenant({ name: 'Long', admin_user_id: 'usr_l', billing_profile: { legal_name: name } }),
      201,
    );
    expect(created.billing_profile.legal_name).toBe(name);
  });

  const invalidProfiles: [Record<string, unknown>, string][] = [
    [{ billing_profile: { legal_name: '' } }, 'billing_profile.legal_name'],
    [{ billing_profile: { legal_name: '   ' } }, 'billing_profile.legal_name'],
    [{ billing_profile: { legal_name: 'x'.repeat(201) } }, 'billing_profile.legal_name'],
    [{ billing_profile: { legal_name: 'Acme\nCorp' } }, 'billing_profile.legal_name'],
    [{ billing_profile: { legal_name: 'Acme\u0085Corp' } }, 'billing_profile.legal_name'],
    [{ billing_profile: { legal_name: 42 } }, 'billing_profile.legal_name'],
    [{ billing_profile: { address: '' } }, 'billing_profile.address'],
    [{ billing_profile: { address: 'x'.repeat(501) } }, 'billing_profile.address'],
    [{ billing_profile: { address: 'Line 1\tLine 2' } }, 'billing_profile.address'],
    [{ billing_profile: { address: 'Bell\u0007' } }, 'billing_profile.address'],
    [{ billing_profile: { tax_id: '' } }, 'billing_profile.tax_id'],
    [{ billing_profile: { tax_id: 'DE_123' } }, 'billing_profile.tax_id'],
    [{ billing_profile: { tax_id: '1'.repeat(65) } }, 'billing_profile.tax_id'],
    [{ billing_profile: { email: 'not-an-address' } }, 'billing_profile.email'],
    [{ billing_profile: { email: 'ops@localhost' } }, 'billing_profile.email'],
    [{ billing_profile: { email: 'a@b.com, c@d.com' } }, 'billing_profile.email'],
    [{ billing_profile: { email: `${'a'.repeat(65)}@acme.com` } }, 'billing_profile.email'],
    [{ billing_profile: { email: `x@${Array(4).fill('b'.repeat(62)).join('.')}.com` } }, 'billing_profile.email'],
    [{ billing_profile: { phone: '+1 555' } }, 'billing_profile.phone'],
    [{ billing_profile: 'Acme' }, 'billing_profile'],
    [{ locale: 'fr' }, 'locale'],
    [{ locale: 'zh-cn' }, 'locale'],
    [{ locale: null }, 'locale'],
  ];

  it.each(invalidProfiles)('create, PATCH and sync refuse %j naming %s', async (fields, parameter) => {
    expectInvalid(await createTenant({ name: 'X', admin_user_id: 'usr_x', ...fields }), parameter);
    expectInvalid(await asPlatformAdmin(t).patch('/admin/tenants/tnt_profiled', fields), parameter);
    expectInvalid(
      await asService(t).put('/internal/billing/tenants/tnt_profiled', {
        name: 'X',
        admin_user_id: 'usr_x',
        ...fields,
      }),
      parameter,
    );
  });

  it('accepts the limits exactly: 500-character address with line breaks, 64-character tax id, 254-character email', async () => {
    const limits = {
      legal_name: 'x'.repeat(200),
      address: `${'x'.repeat(249)}\n${'y'.repeat(250)}`,
      tax_id: 'Ab0 ./-'.repeat(9).slice(0, 64),
      email: `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(59)}.example`,
    };
    expect([...limits.address]).toHaveLength(500);
    expect(limits.email).toHaveLength(254);
    const created = expectData<TenantView>(
      await createTenant({ name: 'Limits', admin_user_id: 'usr_x', billing_profile: limits }),
      201,
    );
    expect(created.billing_profile).toEqual(limits);
  });

  it('only a platform admin or the sync may write them: the tenant itself may not', async () => {
    await givenTenant(t, 'tnt_profile_own');
    for (const caller of [asTenantAdmin(t, 'tnt_profile_own'), asTenantViewer(t, 'tnt_profile_own')]) {
      expectError(
        await caller.patch('/admin/tenants/tnt_profile_own', { billing_profile: { email: 'me@own.example' } }),
        403,
        'forbidden',
      );
    }
    expectError(
      await asPlatformAdmin(t).put('/internal/billing/tenants/tnt_profile_own', {
        name: 'X',
        admin_user_id: 'usr_x',
        locale: 'en',
      }),
      403,
      'forbidden',
    );
    const read = expectData<TenantView>(
      await asTenantAdmin(t, 'tnt_profile_own').get('/billing/tenants/tnt_profile_own'),
    );
    expect(read.billing_profile).toEqual(emptyProfile);
  });
});
