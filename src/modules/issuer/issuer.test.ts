import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultIssuer, type IssuerConfig } from '../../config.js';
import { maxLogoBytes } from '../../core/images.js';
import { api, asPlatformAdmin, asService, asTenantAdmin } from '../../testing/api.js';
import { expectData, expectError, expectInvalid } from '../../testing/envelopes.js';
import { givenTenant } from '../../testing/fixtures.js';
import { dataUrlOf, jpegStart, pngImage } from '../../testing/images.js';
import { createTestApp, testStart, type TestApp } from '../../testing/test-app.js';
import { readIssuer } from './read-issuer.js';
import type { IssuerView } from './schemas.js';

const url = '/admin/settings/issuer';

const configured: IssuerConfig = {
  legalName: 'Example Cloud (Shanghai) Co., Ltd.',
  address: 'No. 1 Example Road\nShanghai 200000',
  taxId: '91310000MA1FL0000X',
  email: 'billing@example.com',
  phone: '+86 21 5555 0100',
  logo: { type: 'image/jpeg', bytes: jpegStart() },
};

const saved = {
  legal_name: 'Example Cloud Ltd.',
  address: '1 Example Street\nLondon',
  tax_id: 'GB 123 4567 89',
  email: 'invoices@example.co.uk',
  phone: '+44 (20) 7946-0000',
  logo: dataUrlOf('image/png', pngImage()),
};

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ issuerFallback: configured });
});
afterAll(() => t.close());
beforeEach(async () => {
  t.clock.set(testStart);
  expect((await asPlatformAdmin(t).delete(url)).statusCode).toBe(200);
});

const read = async (caller = asPlatformAdmin(t)) => expectData<IssuerView>(await caller.get(url));

const configuredView: IssuerView = {
  legal_name: configured.legalName,
  address: configured.address,
  tax_id: configured.taxId,
  email: configured.email,
  phone: configured.phone,
  logo: dataUrlOf('image/jpeg', jpegStart()),
  source: 'configuration',
  updated_at: null,
};

describe('GET /admin/settings/issuer', () => {
  it("answers the configuration's issuer, logo as a data URL, while nothing is saved", async () => {
    expect(await read()).toEqual(configuredView);
    expect(await readIssuer(t.database.db, configured)).toEqual({
      ...configured,
      source: 'configuration',
      updatedAt: null,
    });
  });

  it('answers the default name and nothing else when nothing is configured', async () => {
    const bare = await createTestApp();
    try {
      expect(await read(asPlatformAdmin(bare))).toEqual({
        legal_name: 'Billing Service',
        address: null,
        tax_id: null,
        email: null,
        phone: null,
        logo: null,
        source: 'configuration',
        updated_at: null,
      });
      expect(defaultIssuer.legalName).toBe('Billing Service');
    } finally {
      await bare.close();
    }
  });

  it('lets services read it too', async () => {
    expect(await read(asService(t))).toEqual(configuredView);
  });
});

describe('PUT /admin/settings/issuer', () => {
  it('saves the issuer over the configuration, for every reader, with who and when', async () => {
    t.clock.set('2026-03-04T05:06:07Z');
    const answered = expectData<IssuerView>(await asPlatformAdmin(t).put(url, saved));
    const expected = { ...saved, source: 'settings', updated_at: '2026-03-04T05:06:07Z' };
    expect(answered).toEqual(expected);
    expect(await read()).toEqual(expected);
    expect(await read(asService(t))).toEqual(expected);

    const issuer = await readIssuer(t.database.db, configured);
    expect(issuer).toEqual({
      legalName: saved.legal_name,
      address: saved.address,
      taxId: saved.tax_id,
      email: saved.email,
      phone: saved.phone,
      logo: { type: 'image/png', bytes: pngImage() },
      source: 'settings',
      updatedAt: new Date('2026-03-04T05:06:07Z'),
    });
    expect(Buffer.isBuffer(issuer.logo?.bytes)).toBe(true);
    const row = await t.database.db.selectFrom('document_issuer').select('updated_by').executeTakeFirstOrThrow();
    expect(row.updated_by).toBe('usr_platform');
  });

  it('replaces the whole issuer: fields left out are empty, not the configuration', async () => {
    await asPlatformAdmin(t).put(url, saved);
    const replaced = expectData<IssuerView>(await asPlatformAdmin(t).put(url, { legal_name: 'Only A Name Ltd.' }));
    expect(replaced).toMatchObject({
      legal_name: 'Only A Name Ltd.',
      address: null,
      tax_id: null,
      email: null,
      phone: null,
      logo: null,
      source: 'settings',
    });
    const nulls = expectData<IssuerView>(
      await asPlatformAdmin(t).put(url, { ...saved, address: null, logo: null, phone: null }),
    );
    expect(nulls).toMatchObject({ address: null, logo: null, phone: null, email: saved.email });
    expect(await t.database.db.selectFrom('document_issuer').selectAll().execute()).toHaveLength(1);
  });

  it('takes a JPEG logo and a PNG of exactly 200 KiB', async () => {
    const jpeg = dataUrlOf('image/jpeg', jpegStart());
    expect(expectData<IssuerView>(await asPlatformAdmin(t).put(url, { ...saved, logo: jpeg })).logo).toBe(jpeg);
    const largest = pngImage(maxLogoBytes);
    const answered = expectData<IssuerView>(
      await asPlatformAdmin(t).put(url, { ...saved, logo: dataUrlOf('image/png', largest) }),
    );
    expect(answered.logo).toBe(dataUrlOf('image/png', largest));
    expect((await readIssuer(t.database.db, configured)).logo?.bytes.equals(largest)).toBe(true);
  });

  const png = pngImage().toString('base64');
  it.each([
    [{ ...saved, legal_name: undefined }, 'legal_name'],
    [{ ...saved, legal_name: '' }, 'legal_name'],
    [{ ...saved, legal_name: null }, 'legal_name'],
    [{ ...saved, legal_name: 'x'.repeat(201) }, 'legal_name'],
    [{ ...saved, address: 'Tab\there' }, 'address'],
    [{ ...saved, tax_id: 'VAT#1' }, 'tax_id'],
    [{ ...saved, email: 'billing' }, 'email'],
    [{ ...saved, phone: 'call us' }, 'phone'],
    [{ ...saved, phone: '1'.repeat(41) }, 'phone'],
    [{ ...saved, website: 'https://example.com' }, 'website'],
    [{ ...saved, logo: `data:image/gif;base64,${png}` }, 'logo'],
    [{ ...saved, logo: `data:image/png,${png}` }, 'logo'],
    [{ ...saved, logo: 'https://example.com/logo.png' }, 'logo'],
    [{ ...saved, logo: 'data:image/png;base64,not base64!' }, 'logo'],
    [{ ...saved, logo: `data:image/png;base64,${png.slice(0, -2)}` }, 'logo'],
    [{ ...saved, logo: 'data:image/png;base64,' }, 'logo'],
    [{ ...saved, logo: dataUrlOf('image/png', Buffer.from('GIF89a not a png')) }, 'logo'],
    [{ ...saved, logo: dataUrlOf('image/jpeg', pngImage()) }, 'logo'],
    [{ ...saved, logo: dataUrlOf('image/png', jpegStart()) }, 'logo'],
    [{ ...saved, logo: dataUrlOf('image/png', pngImage(maxLogoBytes + 1)) }, 'logo'],
    [{ ...saved, logo: 'A'.repeat(300_000) }, 'logo'],
  ])('refuses %# naming %s, and changes nothing', async (body, parameter) => {
    const refused = expectInvalid(await asPlatformAdmin(t).put(url, body), parameter);
    expect(refused.error.details[0]?.parameter).toBe(parameter);
    expect(await read()).toEqual(configuredView);
  });

  it('says why a logo is refused', async () => {
    const wrongType = expectInvalid(
      await asPlatformAdmin(t).put(url, { ...saved, logo: dataUrlOf('image/jpeg', pngImage()) }),
      'logo',
    );
    expect(wrongType.message).toContain('declares image/jpeg but holds image/png');
    const tooLarge = expectInvalid(
      await asPlatformAdmin(t).put(url, { ...saved, logo: dataUrlOf('image/png', pngImage(maxLogoBytes + 1)) }),
      'logo',
    );
    expect(tooLarge.message).toContain('204801 bytes; at most 204800');
  });
});

describe('DELETE /admin/settings/issuer', () => {
  it("goes back to the configuration's issuer, and is safe to repeat", async () => {
    await asPlatformAdmin(t).put(url, saved);
    expect(expectData<IssuerView>(await asPlatformAdmin(t).delete(url))).toEqual(configuredView);
    expect(await read()).toEqual(configuredView);
    expect(expectData<IssuerView>(await asPlatformAdmin(t).delete(url))).toEqual(configuredView);
    expect((await readIssuer(t.database.db, configured)).source).toBe('configuration');
  });
});

describe('access', () => {
  it('tenants may neither read nor change the issuer; services may only read it', async () => {
    await givenTenant(t, 'tnt_issuer_access');
    for (const role of ['tenant_admin', 'tenant_viewer'] as const) {
      const tenant = api(t).as({ role, tenant: 'tnt_issuer_access' });
      expectError(await tenant.get(url), 403, 'forbidden');
      expectError(await tenant.put(url, saved), 403, 'forbidden');
      expectError(await tenant.delete(url), 403, 'forbidden');
    }
    expectError(await asService(t).put(url, saved), 403, 'forbidden');
    expectError(await asService(t).delete(url), 403, 'forbidden');
    const anonymous = api(t).as({ headers: {} });
    expectError(await anonymous.get(url), 401, 'unauthorized');
    expectError(await anonymous.put(url, saved), 401, 'unauthorized');
    expectError(await asTenantAdmin(t, 'tnt_issuer_access').put(url, saved), 403, 'forbidden');
    expect(await read()).toEqual(configuredView);
  });
});
