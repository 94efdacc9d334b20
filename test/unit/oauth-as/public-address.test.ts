/**
 * L5: the address decision a CIMD fetch makes before connecting. Every
 * special-purpose range of the IANA IPv4/IPv6 registries (RFC 6890) is
 * refused, checked at both ends and just outside them; anything that does not
 * parse as an address is refused too.
 */
import { isPublicAddress } from '../../../shared/oauth-as/public-address.js';

/** [range, first address, last address, just below, just above] (undefined: no neighbour worth testing). */
const BLOCKED_V4: Array<[string, string, string, string | undefined, string | undefined]> = [
  ['0.0.0.0/8 "this network"', '0.0.0.0', '0.255.255.255', undefined, '1.0.0.0'],
  ['10.0.0.0/8 private', '10.0.0.0', '10.255.255.255', '9.255.255.255', '11.0.0.0'],
  ['100.64.0.0/10 shared address space (CGNAT)', '100.64.0.0', '100.127.255.255', '100.63.255.255', '100.128.0.0'],
  ['127.0.0.0/8 loopback', '127.0.0.0', '127.255.255.255', '126.255.255.255', '128.0.0.0'],
  [
    '169.254.0.0/16 link-local (cloud metadata 169.254.169.254)',
    '169.254.0.0',
    '169.254.255.255',
    '169.253.255.255',
    '169.255.0.0',
  ],
  ['172.16.0.0/12 private', '172.16.0.0', '172.31.255.255', '172.15.255.255', '172.32.0.0'],
  ['192.0.0.0/24 IETF protocol assignments', '192.0.0.0', '192.0.0.255', '191.255.255.255', '192.0.1.0'],
  ['192.0.2.0/24 TEST-NET-1', '192.0.2.0', '192.0.2.255', '192.0.1.255', '192.0.3.0'],
  ['192.88.99.0/24 6to4 relay anycast', '192.88.99.0', '192.88.99.255', '192.88.98.255', '192.88.100.0'],
  ['192.168.0.0/16 private', '192.168.0.0', '192.168.255.255', '192.167.255.255', '192.169.0.0'],
  ['198.18.0.0/15 benchmarking', '198.18.0.0', '198.19.255.255', '198.17.255.255', '198.20.0.0'],
  ['198.51.100.0/24 TEST-NET-2', '198.51.100.0', '198.51.100.255', '198.51.99.255', '198.51.101.0'],
  ['203.0.113.0/24 TEST-NET-3', '203.0.113.0', '203.0.113.255', '203.0.112.255', '203.0.114.0'],
  ['224.0.0.0/4 multicast', '224.0.0.0', '239.255.255.255', '223.255.255.255', undefined],
  ['240.0.0.0/4 reserved, incl. 255.255.255.255 broadcast', '240.0.0.0', '255.255.255.255', undefined, undefined],
];

const BLOCKED_V6: Array<[string, string, string, string | undefined, string | undefined]> = [
  ['::/128 unspecified', '::', '::', undefined, undefined],
  ['::1/128 loopback', '::1', '::1', undefined, undefined],
  ['::/96 IPv4-compatible', '::', '::ffff:ffff', undefined, undefined],
  ['::ffff:0:0/96 IPv4-mapped', '::ffff:0.0.0.0', '::ffff:255.255.255.255', undefined, undefined],
  ['::ffff:0:0:0/96 IPv4-translated', '::ffff:0:0.0.0.0', '::ffff:0:255.255.255.255', undefined, undefined],
  ['64:ff9b::/96 NAT64', '64:ff9b::', '64:ff9b::ffff:ffff', undefined, undefined],
  ['64:ff9b:1::/48 local NAT64', '64:ff9b:1::', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff', undefined, undefined],
  ['100::/64 discard-only', '100::', '100::ffff:ffff:ffff:ffff', undefined, undefined],
  [
    '2001::/23 IETF protocol assignments (Teredo 2001::/32, ORCHID)',
    '2001::',
    '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff',
    '2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '2001:200::',
  ],
  [
    '2001:db8::/32 documentation',
    '2001:db8::',
    '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
    '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff',
    '2001:db9::',
  ],
  [
    '2002::/16 6to4',
    '2002::',
    '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '2003::',
  ],
  [
    '3fff::/20 documentation',
    '3fff::',
    '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff',
    '3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    undefined,
  ],
  ['fc00::/7 unique local', 'fc00::', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined, undefined],
  ['fe80::/10 link-local', 'fe80::', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined, undefined],
  ['fec0::/10 site-local', 'fec0::', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined, undefined],
  ['ff00::/8 multicast', 'ff00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', undefined, undefined],
];

describe('isPublicAddress (L5)', () => {
  describe.each([...BLOCKED_V4, ...BLOCKED_V6])('%s', (_range, first, last, below, above) => {
    it('L5: refuses the first and the last address of the range', () => {
      expect({ first: isPublicAddress(first), last: isPublicAddress(last) }).toEqual({ first: false, last: false });
    });
    if (below) it(`L5: accepts ${below}, just below the range`, () => expect(isPublicAddress(below)).toBe(true));
    if (above) it(`L5: accepts ${above}, just above the range`, () => expect(isPublicAddress(above)).toBe(true));
  });

  it('L5: refuses loopback written as IPv4-mapped, -compatible, -translated, NAT64 and 6to4 IPv6', () => {
    const loopbackInDisguise = [
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '0:0:0:0:0:ffff:7f00:1',
      '0000:0000:0000:0000:0000:FFFF:7F00:0001',
      '::FFFF:127.0.0.1',
      '::127.0.0.1',
      '::7f00:1',
      '::ffff:0:127.0.0.1',
      '64:ff9b::127.0.0.1',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
      '2001:0:4136:e378:8000:63bf:80ff:fffe',
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a9fe:a9fe',
      '2002:a9fe:a9fe::1',
      '::ffff:10.0.0.1',
      '::ffff:8.8.8.8',
    ];
    expect(loopbackInDisguise.filter(isPublicAddress)).toEqual([]);
  });

  it('L5: refuses anything that is not exactly one IP address (fails closed)', () => {
    const junk = [
      '',
      'localhost',
      'metadata.google.internal',
      '127.1',
      '0x7f000001',
      '2130706433',
      '017700000001',
      '127.0.0.1.',
      ' 8.8.8.8',
      '8.8.8.8/32',
      '[2606:4700::1111]',
      'fe80::1%eth0',
      '2606:4700::1111%1',
      '1.2.3.256',
      '::ffff:1.2.3.256',
      ':::1',
    ];
    expect(junk.filter(isPublicAddress)).toEqual([]);
  });

  it('L5: accepts ordinary public addresses of both families', () => {
    const ok = [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.215.14',
      '2606:4700:4700::1111',
      '2001:4860:4860::8888',
      '2a00:1450:4001:80b::200e',
      '2001:200::1',
    ];
    expect(ok.filter((a) => !isPublicAddress(a))).toEqual([]);
  });

  it('L5: outside global unicast (2000::/3) nothing is public, even where no registry entry names it', () => {
    expect(['4000::1', '5f00::1', '1::1', 'e000::1', '8000::'].filter(isPublicAddress)).toEqual([]);
  });
});
