// The public surface (DESIGN.md section 6; README documents it).
export {
  Stack, type StackOptions, type InterfaceOptions, type StackLimits, type PingOptions, type StackStats, type StackEvents,
  type ClusterJoin, type VipaRoute, type ClusterVipa, type ClusterMethod, type DptRow, type CrtRow,
} from './stack.ts';
export { ShoalError, ERROR_CODES, ERRNO_CODES, type ShoalErrorCode } from './errors.ts';
export { COUNTERS, type CounterName } from './core-abi.ts';
export { VirtualSwitch } from './link/switch.ts';
export { withFaults, FaultLink, type FaultOptions } from './link/faults.ts';
export { withPcap, PcapWriter } from './link/pcap.ts';
export { FRAME_CSUM_OK, type Link } from './link/link.ts';
export { TapLink } from './link/tap.ts';
export { PipeLink, type PipeLinkOptions } from './link/pipe.ts';
export { RingLink, FrameRing, type RingPair, type RingLinkOptions, type RingCounters } from './link/ring.ts';
export { VirtualClock, realClock, type Clock } from './clock.ts';
export { UdpSocket, type RemoteInfo, type DgramSocketOptions, type BindOptions } from './net/dgram.ts';
export { NetFactory, Server, Socket, TCP_STATES, type TcpInfo, type ConnectOptions, type ListenOptions, type ServerOptions, type SocketOptions, type Congestion } from './net/net.ts';
export { Cluster, type ClusterOptions, type ClusterDptRow, type ClusterCrtRow, type StackEvent, type ReconfigureEvent } from './cluster/cluster.ts';
export { parseClusterConfig, clusterKey, ClusterConfigError, type ClusterConfig } from './cluster/config.ts';
export { BUILTIN_APPS, type AppContext, type ConnectionHandler } from './cluster/apps.ts';
export { WorkerStack } from './cluster/worker.ts';
