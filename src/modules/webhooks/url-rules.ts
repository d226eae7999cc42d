import { BlockList, isIP } from 'node:net';
import { invalidParameter } from '../../core/errors.js';
import { fail, ok, type Result } from '../../core/result.js';

export const maxUrlLength = 2048;

/** Where no webhook may go unless the operator allows it: the service's own host and networks. */
const internal = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // RFC 1918
  ['192.168.0.0', 16], // RFC 1918
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  internal.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  internal.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:127.0.0.1`, however written), if it is one. */
const mappedIpv4 = (address: string): string | undefined => {
  const normalised = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const match = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(normalised);
  if (match === null) return undefined;
  const high = parseInt(match[1] ?? '0', 16);
  const low = parseInt(match[2] ?? '0', 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
};

/** Loopback, private, link-local, CGNAT, unique-local, multicast or unspecified: not a receiver on the internet. */
export const isInternalAddress = (address: string): boolean => {
  const family = isIP(address);
  if (family === 4) return internal.check(address, 'ipv4');
  if (family !== 6) return false;
  const ipv4 = mappedIpv4(address);
  return ipv4 === undefined ? internal.check(address, 'ipv6') : internal.check(ipv4, 'ipv4');
};

/** The host of a URL without IPv6 brackets: what isIP and DNS take. */
export const bareHost = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

export const internalAddressReason =
  'must not point to a loopback, private, link-local or other internal address (BILLING_WEBHOOK_ALLOW_PRIVATE=true allows them)';

/**
 * An endpoint URL as given, if it may be one: http(s), no credentials, at most 2,048 characters,
 * and, unless allowed, no internal IP address as its host. A host name is checked again at each
 * delivery against the addresses it then resolves to (send-webhook.ts).
 */
export const checkEndpointUrl = (raw: string, allowInternal: boolean): Result<string> => {
  const refuse = (reason: string) => fail<string>(invalidParameter('body', 'url', reason));
  if (raw.length > maxUrlLength) return refuse(`must be at most ${maxUrlLength} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return refuse('must be an http or https URL');
  if (url.username !== '' || url.password !== '') return refuse('must not contain credentials');
  if (!allowInternal && isInternalAddress(bareHost(url))) return refuse(internalAddressReason);
  return ok(raw);
};
