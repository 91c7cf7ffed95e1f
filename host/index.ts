// The public surface (DESIGN.md section 6; README documents it).
export { Stack, type StackOptions, type InterfaceOptions, type StackLimits, type PingOptions } from './stack.ts';
export { VirtualSwitch } from './link/switch.ts';
export { withFaults, FaultLink, type FaultOptions } from './link/faults.ts';
export { withPcap, PcapWriter } from './link/pcap.ts';
export { FRAME_CSUM_OK, type Link } from './link/link.ts';
export { TapLink } from './link/tap.ts';
export { VirtualClock, realClock, type Clock } from './clock.ts';
export { UdpSocket, type RemoteInfo } from './net/dgram.ts';
export { NetFactory, Server, Socket, TCP_STATES, type TcpInfo, type ConnectOptions, type ServerOptions, type SocketOptions, type Congestion } from './net/net.ts';
export { Cluster, type ClusterOptions, type ClusterDptRow, type ClusterCrtRow, type DptRow, type CrtRow, type VipaRoute, type ClusterJoin, type StackEvent, type ReconfigureEvent } from './cluster/cluster.ts';
export { parseClusterConfig, clusterKey, ClusterConfigError, type ClusterConfig } from './cluster/config.ts';
export { BUILTIN_APPS, type AppContext, type ConnectionHandler } from './cluster/apps.ts';
