/**
 * Talking to the kubelet's Registration service, and telling one incarnation of a socket file
 * from the next (a restarted kubelet deletes and recreates kubelet.sock).
 */
import { stat } from 'node:fs/promises';
import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadDevicePluginApi, type RegisterRequest } from './proto.js';

/** Thrown when the kubelet does not accept a registration. */
export class RegistrationError extends Error {
  constructor(resourceName: string, kubeletSocket: string, cause: string) {
    super(`registering ${resourceName} with the kubelet at ${kubeletSocket} failed: ${cause}`);
    this.name = 'RegistrationError';
  }
}

type RegisterMethod = (
  request: RegisterRequest,
  options: { deadline: number },
  callback: (err: ServiceError | null) => void,
) => void;

/** Calls Registration.Register on the kubelet's socket; resolves once the kubelet accepted it. */
export async function register(kubeletSocket: string, request: RegisterRequest, timeoutMs: number): Promise<void> {
  const client = new (loadDevicePluginApi().Registration)(`unix://${kubeletSocket}`, credentials.createInsecure()) as unknown as Client & {
    Register: RegisterMethod;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      client.Register(request, { deadline: Date.now() + timeoutMs }, (err) =>
        err ? reject(new RegistrationError(request.resource_name, kubeletSocket, err.details || err.message)) : resolve(),
      );
    });
  } finally {
    client.close();
  }
}

/**
 * An identity for the file at `path` that changes when it is deleted and created again
 * (inode number and change time in nanoseconds: an inode number alone may be reused at once),
 * or undefined when nothing is there.
 */
export async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.ctimeNs}`;
  } catch {
    return undefined;
  }
}
