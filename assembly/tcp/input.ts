// TCP input lives in tcp.ts; ip.ts and icmp.ts reach it through here.
export { tcpInput, tcpIcmpError } from './tcp';
