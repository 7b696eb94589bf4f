/**
 * The DevicePlugin gRPC service for one resource, on its own unix socket. It answers from the
 * pure functions in catalog.ts and pushes the device list to every ListAndWatch stream whenever
 * publish() is called.
 */
import { rm } from 'node:fs/promises';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { allocate, preferredAllocation, UnknownDeviceError, type ResourceSpec } from './catalog.js';
import {
  loadDevicePluginApi,
  type AllocateRequest,
  type Device,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type PreferredAllocationRequest,
} from './proto.js';

/** What the plugin announces: no PreStartContainer, and GetPreferredAllocation is not worth a call. */
export const PLUGIN_OPTIONS: DevicePluginOptions = { pre_start_required: false, get_preferred_allocation_available: false };

/** Options of one resource's server. */
export interface ResourceServerOptions {
  resource: ResourceSpec;
  /** Absolute path of the socket to listen on. */
  socketPath: string;
  /** Every advertised device ID (Allocate refuses others). */
  ids: ReadonlySet<string>;
  /** The device list to send now (health included). */
  devices: () => Device[];
  log: Logger;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

/** One resource's DevicePlugin server. */
export class ResourceServer {
  private server: Server | undefined;
  private readonly streams = new Set<ServerWritableStream<unknown, ListAndWatchResponse>>();

  constructor(private readonly options: ResourceServerOptions) {}

  /** Listens on the socket (a stale file left at its path is removed first). */
  async start(): Promise<void> {
    const { socketPath } = this.options;
    await rm(socketPath, { force: true });
    const server = new Server();
    server.addService(loadDevicePluginApi().DevicePlugin.service, this.handlers());
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    this.server = server;
  }

  /** Sends the current device list to every open ListAndWatch stream. */
  publish(): void {
    const message: ListAndWatchResponse = { devices: this.options.devices() };
    for (const stream of this.streams) stream.write(message);
  }

  /** Number of open ListAndWatch streams (the kubelet keeps one per registration). */
  get watchers(): number {
    return this.streams.size;
  }

  /** Ends every stream, stops listening and removes the socket file. */
  async stop(): Promise<void> {
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.server?.forceShutdown();
    this.server = undefined;
    await rm(this.options.socketPath, { force: true });
  }

  private handlers(): UntypedServiceImplementation {
    const { resource, ids, log } = this.options;
    const options: Unary<unknown, DevicePluginOptions> = (_call, callback) => callback(null, PLUGIN_OPTIONS);
    const preferred: Unary<PreferredAllocationRequest, unknown> = (call, callback) => callback(null, preferredAllocation(call.request));
    const preStart: Unary<unknown, unknown> = (_call, callback) => callback(null, {});
    const allocateHandler: Unary<AllocateRequest, unknown> = (call, callback) => {
      try {
        const response = allocate(resource, ids, call.request);
        log.info({ resource: resource.resourceName, devices: call.request.container_requests.map((c) => c.devices_ids) }, 'allocated');
        callback(null, response);
      } catch (err) {
        if (!(err instanceof UnknownDeviceError)) throw err;
        log.warn({ resource: resource.resourceName, err: err.message }, 'allocate refused');
        callback({ code: status.INVALID_ARGUMENT, details: err.message });
      }
    };
    return {
      GetDevicePluginOptions: options,
      ListAndWatch: (call: ServerWritableStream<unknown, ListAndWatchResponse>) => this.watch(call),
      GetPreferredAllocation: preferred,
      Allocate: allocateHandler,
      PreStartContainer: preStart,
    };
  }

  private watch(call: ServerWritableStream<unknown, ListAndWatchResponse>): void {
    this.streams.add(call);
    const forget = () => this.streams.delete(call);
    call.on('cancelled', forget);
    call.on('close', forget);
    call.on('error', forget);
    call.write({ devices: this.options.devices() });
  }
}
