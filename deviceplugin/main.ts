/**
 * `node /app/deviceplugin.mjs`: the kubevmm device plugin, one per node (a DaemonSet). It
 * advertises /dev/kvm, /dev/net/tun and /dev/vhost-net as extended resources so launcher pods
 * get those nodes without privileges; see docs/deviceplugin.md.
 */
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { pino } from 'pino';
import { configFromOptions, withDevicePluginOptions } from './config.js';
import { KubevmmDevicePlugin } from './plugin.js';

async function run(opts: Record<string, unknown>): Promise<void> {
  const log = pino({ base: { component: 'kubevmm-device-plugin' }, timestamp: pino.stdTimeFunctions.isoTime });
  const config = configFromOptions(opts);
  log.info({ config }, 'starting');
  const plugin = new KubevmmDevicePlugin(config, log);
  await plugin.start();
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping: removing plugin sockets');
    plugin.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** Parses the command line and runs the plugin until SIGTERM. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = withDevicePluginOptions(
    new Command('kubevmm-device-plugin').description('advertise /dev/kvm, /dev/net/tun and /dev/vhost-net to the kubelet'),
  ).action(async (opts: Record<string, unknown>) => run(opts));
  await program.parseAsync([...argv]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((err: unknown) => {
    console.error(`kubevmm-device-plugin: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
