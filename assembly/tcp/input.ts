// TCP input lives in tcp.ts; the demultiplexer (net/demux.ts) reaches it through here.
export { tcpInput, tcpIcmpError } from './tcp';
