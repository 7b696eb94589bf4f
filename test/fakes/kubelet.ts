/**
 * A stand-in kubelet for tests: it serves Registration on kubelet.sock in a directory, records
 * every Register, and dials plugins back the way the kubelet does (DevicePlugin over the
 * endpoint socket). restart() behaves like a kubelet restart: kubelet.sock goes away, every
 * other socket in the directory is deleted, and a new kubelet.sock appears.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  credentials,
  Server,
  ServerCredentials,
  type Client,
  type ClientReadableStream,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  KUBELET_SOCKET,
  loadDevicePluginApi,
  type AllocateRequest,
  type AllocateResponse,
  type DevicePluginOptions,
  type ListAndWatchResponse,
  type RegisterRequest,
} from '../../deviceplugin/proto.js';

/** Values that arrive over time, taken in order by waiters. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: { match: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  /** Delivers an item to the first waiter it matches, or keeps it. */
  push(item: T): void {
    const i = this.waiters.findIndex((w) => w.match(item));
    if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(item);
    else this.items.push(item);
  }

  /** The first kept or future item matching `match` (kept items that do not match are dropped). */
  next(match: (item: T) => boolean = () => true): Promise<T> {
    while (this.items.length > 0) {
      const item = this.items.shift() as T;
      if (match(item)) return Promise.resolve(item);
    }
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

/** A DevicePlugin client as the kubelet uses it. */
export interface PluginClient {
  options(): Promise<DevicePluginOptions>;
  allocate(request: AllocateRequest): Promise<AllocateResponse>;
  /** Opens ListAndWatch; every message lands in the returned inbox, the stream's end as `null`. */
  listAndWatch(): { inbox: Inbox<ListAndWatchResponse | null>; cancel: () => void };
  close(): void;
}

type UnaryClientMethod = (request: unknown, callback: (err: ServiceError | null, response: unknown) => void) => void;
type RawPluginClient = Client & Record<'GetDevicePluginOptions' | 'Allocate', UnaryClientMethod> & {
  ListAndWatch: (request: object) => ClientReadableStream<ListAndWatchResponse>;
};

function unary<T>(method: UnaryClientMethod, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => method(request, (err, response) => (err ? reject(err) : resolve(response as T))));
}

/** The fake kubelet. */
export class FakeKubelet {
  /** Every Register received, in order. */
  readonly registrations = new Inbox<RegisterRequest>();
  private server: Server | undefined;

  constructor(readonly dir: string) {}

  /** Serves Registration on <dir>/kubelet.sock. */
  async start(): Promise<void> {
    const server = new Server();
    server.addService(loadDevicePluginApi().Registration.service, {
      Register: (call: ServerUnaryCall<RegisterRequest, object>, callback: sendUnaryData<object>) => {
        this.registrations.push(call.request);
        callback(null, {});
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${join(this.dir, KUBELET_SOCKET)}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
  }

  /** Stops serving; kubelet.sock goes away. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** What a kubelet restart does to the directory: its socket and every plugin socket go, then it serves again. */
  async restart(): Promise<void> {
    this.stop();
    for (const name of await readdir(this.dir)) if (name.endsWith('.sock')) await rm(join(this.dir, name), { force: true });
    await this.start();
  }

  /** Dials a plugin's endpoint (relative to the directory, as in RegisterRequest.endpoint). */
  dial(endpoint: string): PluginClient {
    const raw = new (loadDevicePluginApi().DevicePlugin)(`unix://${join(this.dir, endpoint)}`, credentials.createInsecure()) as unknown as RawPluginClient;
    return {
      options: () => unary(raw.GetDevicePluginOptions.bind(raw), {}),
      allocate: (request) => unary(raw.Allocate.bind(raw), request),
      listAndWatch: () => {
        const inbox = new Inbox<ListAndWatchResponse | null>();
        const stream = raw.ListAndWatch({});
        stream.on('data', (message: ListAndWatchResponse) => inbox.push(message));
        stream.on('error', () => inbox.push(null));
        stream.on('end', () => inbox.push(null));
        return { inbox, cancel: () => stream.cancel() };
      },
      close: () => raw.close(),
    };
  }
}
