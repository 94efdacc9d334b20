/**
 * Which IP addresses a server-side fetch of a client-chosen URL (a CIMD) may
 * connect to (L5, SSRF). The decision is an allow-decision: an address is
 * public only if it parses as exactly one IPv4 or IPv6 address, and is in no
 * special-purpose range of the IANA registries (RFC 6890); for IPv6 it must
 * also be global unicast (2000::/3). Anything else is refused.
 * @module
 */
import { BlockList, isIP } from 'node:net';

/** IANA IPv4 Special-Purpose Address Registry, plus multicast and the reserved 240/4. */
const SPECIAL_V4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
];

/**
 * IANA IPv6 Special-Purpose Address Registry. Most entries already fall
 * outside 2000::/3 and are listed so the table reads as the registry does.
 * Every form that embeds an IPv4 address (mapped, compatible, translated,
 * NAT64, 6to4, Teredo) is refused whole: the embedded address would otherwise
 * need its own check, and no legitimate CIMD host needs these forms.
 */
const SPECIAL_V6: ReadonlyArray<readonly [string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['::ffff:0:0', 96], // IPv4-mapped
  ['::ffff:0:0:0', 96], // IPv4-translated
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments, incl. Teredo 2001::/32 and ORCHID
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['3fff::', 20], // documentation (RFC 9637)
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

/** Node's BlockList matches IPv4 rules against IPv4-mapped IPv6 and v6 rules against IPv4 too: keep one list per family. */
function subnets(family: 'ipv4' | 'ipv6', ranges: ReadonlyArray<readonly [string, number]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of ranges) list.addSubnet(network, prefix, family);
  return list;
}

const specialV4 = subnets('ipv4', SPECIAL_V4);
const specialV6 = subnets('ipv6', SPECIAL_V6);
const globalUnicastV6 = subnets('ipv6', [['2000::', 3]]);
const loopbackV4 = subnets('ipv4', [['127.0.0.0', 8]]);
const loopbackV6 = subnets('ipv6', [['::1', 128]]);

/** True only for an address a fetch of a client-chosen URL may connect to. */
export function isPublicAddress(ip: string): boolean {
  // A zone id ("fe80::1%eth0") passes isIP but BlockList.check then answers "not listed": refuse it first.
  if (ip.includes('%')) return false;
  switch (isIP(ip)) {
    case 4:
      return !specialV4.check(ip, 'ipv4');
    case 6:
      return globalUnicastV6.check(ip, 'ipv6') && !specialV6.check(ip, 'ipv6');
    default:
      return false;
  }
}

/** 127.0.0.0/8 or ::1: what DANGEROUSLY_ALLOW_LOOPBACK_CIMD lets a local stack fetch over http. */
export function isLoopbackAddress(ip: string): boolean {
  switch (isIP(ip)) {
    case 4:
      return loopbackV4.check(ip, 'ipv4');
    case 6:
      return !ip.includes('%') && loopbackV6.check(ip, 'ipv6');
    default:
      return false;
  }
}
