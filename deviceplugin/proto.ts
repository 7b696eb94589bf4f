/**
 * The kubelet's device plugin API, version v1beta1, as gRPC service constructors.
 *
 * The .proto text lives here as a string (written for kubevmm from the protocol's facts: the
 * package, service, method, message and field names and numbers must match the kubelet's on the
 * wire). Keeping it in a module means it is found the same way from source (tsx, jest) and from
 * the esbuild bundle in the operator image, with no file to ship beside the code. proto-loader
 * parses only files, so the text is written once to a private temporary directory, loaded and
 * removed again (the chart mounts a small emptyDir at /tmp for it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** The API version the plugin speaks and announces in Register. */
export const API_VERSION = 'v1beta1';

/** The socket the kubelet's Registration service listens on, inside the device plugin directory. */
export const KUBELET_SOCKET = 'kubelet.sock';

/** The device plugin API (kubelet side: Registration; plugin side: DevicePlugin). */
export const DEVICE_PLUGIN_PROTO = `syntax = "proto3";

package v1beta1;

// Served by the kubelet on kubelet.sock.
service Registration {
  rpc Register(RegisterRequest) returns (Empty) {}
}

// Served by each plugin on its own socket in the device plugin directory.
service DevicePlugin {
  rpc GetDevicePluginOptions(Empty) returns (DevicePluginOptions) {}
  rpc ListAndWatch(Empty) returns (stream ListAndWatchResponse) {}
  rpc GetPreferredAllocation(PreferredAllocationRequest) returns (PreferredAllocationResponse) {}
  rpc Allocate(AllocateRequest) returns (AllocateResponse) {}
  rpc PreStartContainer(PreStartContainerRequest) returns (PreStartContainerResponse) {}
}

message Empty {}

message DevicePluginOptions {
  bool pre_start_required = 1;
  bool get_preferred_allocation_available = 2;
}

message RegisterRequest {
  string version = 1;
  // Socket file name, relative to the device plugin directory.
  string endpoint = 2;
  string resource_name = 3;
  DevicePluginOptions options = 4;
}

message ListAndWatchResponse {
  repeated Device devices = 1;
}

message NUMANode {
  int64 ID = 1;
}

message TopologyInfo {
  repeated NUMANode nodes = 1;
}

message Device {
  string ID = 1;
  // "Healthy" or "Unhealthy".
  string health = 2;
  TopologyInfo topology = 3;
}

message PreStartContainerRequest {
  repeated string devices_ids = 1;
}

message PreStartContainerResponse {}

message ContainerPreferredAllocationRequest {
  repeated string available_deviceIDs = 1;
  repeated string must_include_deviceIDs = 2;
  int32 allocation_size = 3;
}

message PreferredAllocationRequest {
  repeated ContainerPreferredAllocationRequest container_requests = 1;
}

message ContainerPreferredAllocationResponse {
  repeated string deviceIDs = 1;
}

message PreferredAllocationResponse {
  repeated ContainerPreferredAllocationResponse container_responses = 1;
}

message ContainerAllocateRequest {
  repeated string devices_ids = 1;
}

message AllocateRequest {
  repeated ContainerAllocateRequest container_requests = 1;
}

message Mount {
  string container_path = 1;
  string host_path = 2;
  bool read_only = 3;
}

message DeviceSpec {
  string container_path = 1;
  string host_path = 2;
  // cgroup device permissions: any of r, w, m.
  string permissions = 3;
}

message CDIDevice {
  string name = 1;
}

message ContainerAllocateResponse {
  map<string, string> envs = 1;
  repeated Mount mounts = 2;
  repeated DeviceSpec devices = 3;
  map<string, string> annotations = 4;
  repeated CDIDevice cdi_devices = 5;
}

message AllocateResponse {
  repeated ContainerAllocateResponse container_responses = 1;
}
`;

/** Device health values the kubelet understands. */
export type DeviceHealth = 'Healthy' | 'Unhealthy';

/** One advertised device (field names as on the wire: proto-loader keeps their case). */
export interface Device {
  ID: string;
  health: DeviceHealth;
}

/** What ListAndWatch streams: the full device list, every time something changes. */
export interface ListAndWatchResponse {
  devices: Device[];
}

/** Options a plugin announces at registration and from GetDevicePluginOptions. */
export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}

/** The plugin's registration with the kubelet. */
export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options?: DevicePluginOptions;
}

/** A host device node to create in the container. */
export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}

/** Allocate's input: the device IDs chosen for each container. */
export interface AllocateRequest {
  container_requests: { devices_ids: string[] }[];
}

/** Allocate's answer, one entry per container request, in order. */
export interface AllocateResponse {
  container_responses: { envs?: Record<string, string>; devices: DeviceSpec[] }[];
}

/** GetPreferredAllocation's input, one entry per container. */
export interface PreferredAllocationRequest {
  container_requests: { available_deviceIDs: string[]; must_include_deviceIDs: string[]; allocation_size: number }[];
}

/** GetPreferredAllocation's answer, one entry per container request, in order. */
export interface PreferredAllocationResponse {
  container_responses: { deviceIDs: string[] }[];
}

/** The two services as grpc-js constructors; `.service` is the definition a server adds. */
export interface DevicePluginApi {
  Registration: ServiceClientConstructor;
  DevicePlugin: ServiceClientConstructor;
}

let cached: DevicePluginApi | undefined;

/** Parses the embedded .proto once per process and returns the service constructors. */
export function loadDevicePluginApi(): DevicePluginApi {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'kubevmm-deviceplugin-'));
  try {
    const file = join(dir, 'deviceplugin-v1beta1.proto');
    writeFileSync(file, DEVICE_PLUGIN_PROTO);
    const definition = loadSync(file, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const pkg = loadPackageDefinition(definition)[API_VERSION] as GrpcObject;
    cached = {
      Registration: pkg.Registration as ServiceClientConstructor,
      DevicePlugin: pkg.DevicePlugin as ServiceClientConstructor,
    };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
