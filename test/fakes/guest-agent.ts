// A scripted qemu-guest-agent on a unix socket, for tests of the agent client and of the
// supervisor's stop path. Not used in production. It speaks the agent's wire format:
// newline-delimited JSON, a 0xFF byte before the reply to guest-sync-delimited.

import net from 'node:net';

/** A command as the fake agent received it. */
export interface AgentCommand {
  execute: string;
  arguments?: Record<string, unknown>;
}

/** Decides the answer: call `reply` (or not: no answer, as guest-shutdown does). */
export type AgentHandler = (command: AgentCommand, reply: (value: unknown) => void, socket: net.Socket) => void;

/** Answers like a Debian guest's agent: sync, host name, OS, interfaces; no reply to guest-shutdown. */
export const standardAgent: AgentHandler = (cmd, reply) => {
  switch (cmd.execute) {
    case 'guest-sync-delimited':
      return reply({ return: cmd.arguments?.id });
    case 'guest-get-host-name':
      return reply({ return: { 'host-name': 'web-1' } });
    case 'guest-get-osinfo':
      return reply({ return: { name: 'Debian GNU/Linux', 'kernel-release': '6.1.0-28-cloud-amd64' } });
    case 'guest-network-get-interfaces':
      return reply({
        return: [
          { name: 'lo', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] },
          { name: 'eth0', 'hardware-address': '52:54:00:12:34:56', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.15', prefix: 24 }] },
        ],
      });
    case 'guest-shutdown':
      return; // success has no reply: the agent is going down
    default:
      return reply({ error: { class: 'CommandNotFound', desc: `The command ${cmd.execute} has not been found` } });
  }
};

/** A listening fake agent. */
export interface FakeAgent {
  /** Names of the commands received, in order. */
  received: string[];
  close(): Promise<void>;
}

/** Listen on `path` and answer with `handler`. */
export async function startFakeAgent(path: string, handler: AgentHandler = standardAgent): Promise<FakeAgent> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1').replace(/\xff/g, '');
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const cmd = JSON.parse(buffer.slice(0, nl)) as AgentCommand;
        buffer = buffer.slice(nl + 1);
        received.push(cmd.execute);
        const reply = (value: unknown): void => {
          const prefix = cmd.execute === 'guest-sync-delimited' ? Buffer.from([0xff]) : Buffer.alloc(0);
          if (!socket.destroyed) socket.write(Buffer.concat([prefix, Buffer.from(`${JSON.stringify(value)}\n`)]));
        };
        handler(cmd, reply, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
