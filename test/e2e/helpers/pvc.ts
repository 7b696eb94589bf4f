// PersistentVolumeClaims of the end-to-end cluster, and reading what a guest left in one: the
// test runs on the node itself, so a bound volume's directory is a local path here.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { getJson, waitFor } from './cluster.js';

/**
 * A claim of the default StorageClass (local-path, bound when its first pod is scheduled), or
 * with `pv`, of that static local PV (StorageClass `local`, e2e.sh pv) in `mode`.
 */
export function claimManifest(ns: string, name: string, size = '64Mi', pv?: { name: string; mode?: 'Filesystem' | 'Block' }): Record<string, unknown> {
  const staticPv = pv ? { storageClassName: 'local', volumeName: pv.name, ...(pv.mode ? { volumeMode: pv.mode } : {}) } : {};
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], ...staticPv, resources: { requests: { storage: size } } } };
}

/** The node directory behind a bound Filesystem claim (hostPath or local PV). */
export async function claimDirectory(ns: string, claim: string): Promise<string> {
  const volume = await waitFor(`claim ${ns}/${claim} to be bound`, () => getJson(['-n', ns, 'pvc', claim])?.spec?.volumeName as string | undefined);
  const pv = getJson(['pv', volume]);
  const dir = (pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path) as string | undefined;
  if (!dir) throw new Error(`PV ${volume} of ${ns}/${claim} has no hostPath or local path`);
  return dir;
}

/** The first line of each 512-byte sector `sectors` of the claim's disk.img. */
export async function diskLines(ns: string, claim: string, sectors: number[]): Promise<string[]> {
  const file = await open(join(await claimDirectory(ns, claim), 'disk.img'), 'r');
  try {
    const out: string[] = [];
    for (const sector of sectors) {
      const buf = Buffer.alloc(512);
      await file.read(buf, 0, 512, sector * 512);
      out.push(buf.toString('latin1').split('\n')[0]!.replace(/\0/g, ''));
    }
    return out;
  } finally {
    await file.close();
  }
}
