/**
 * IP address tests that skip Node's IPv6 regular expression when they can: net.isIPv6 compiles a large one on
 * its first call (about 10 ms, a thirtieth of `verify`), and a host name, an IPv4 address or HOST:PORT, which
 * is what nearly every call sees, has at most one colon and cannot be IPv6.
 */
import net from 'node:net';

export function isIPv6(host: string): boolean {
  return host.indexOf(':') !== host.lastIndexOf(':') && net.isIPv6(host);
}

/** net.isIP's answer as a boolean. */
export function isIP(host: string): boolean {
  return net.isIPv4(host) || isIPv6(host);
}
