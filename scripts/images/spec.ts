// The generic image: "these files from this machine + this config -> an OCI image", for the
// test harness's images made of static binaries (CoreDNS, local-path-provisioner, a busybox
// helper). A JSON file in this schema is the contract between a harness script and
// `bash scripts/images/build.sh --spec FILE`. It is a build-tool contract, so it lives beside
// the builder rather than in api/, which holds what the operator, launcher and CLI share.

import { posix } from 'node:path';
import { z } from 'zod';
import { keyOf } from './cache.js';
import { entriesKey, parentDirs, treeEntries } from './layers.js';
import type { ImageConfig } from './oci.js';
import { entriesLayer, type ImagePlan } from './plan.js';
import type { TarEntry } from './tar.js';

const imagePath = z
  .string()
  .refine((p) => p.startsWith('/') && p !== '/' && posix.normalize(p) === p && !p.endsWith('/') && !p.includes('\0'), {
    message: 'must be an absolute, normalized path inside the image such as /usr/bin/coredns (no "..", no trailing slash)',
  });
const mode = z.string().regex(/^0?[0-7]{3,4}$/, 'must be an octal string such as "0755"');
const id = z.number().int().min(0).max(2 ** 31 - 1);

const fileEntry = z.strictObject({
  path: imagePath,
  /** A file or a directory on this machine (a directory is copied whole, modes kept). */
  source: z.string().refine((p) => p.startsWith('/'), { message: 'must be an absolute path on this machine' }),
  /** Permission bits of the file (or of the top directory); default: the source's own. */
  mode: mode.optional(),
  uid: id.default(0),
  gid: id.default(0),
});
const symlinkEntry = z.strictObject({ path: imagePath, symlink: z.string().min(1) });
const directoryEntry = z.strictObject({ path: imagePath, directory: z.literal(true), mode: mode.default('0755'), uid: id.default(0), gid: id.default(0) });

/** A generic image: one layer of files, symlinks and directories, plus its config. */
export const imageSpec = z.strictObject({
  /** Repository with a registry host, e.g. `kubevmm.local/coredns` (a host keeps containerd from prefixing docker.io). */
  name: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/, 'must be a lowercase repository with a registry host, such as kubevmm.local/coredns'),
  /** The tag's prefix; the tag is `<version>-<key of the inputs>`. */
  version: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}$/, 'must be a tag such as 1.15.0'),
  files: z.array(z.union([fileEntry, symlinkEntry, directoryEntry])).min(1),
  config: z
    .strictObject({
      entrypoint: z.array(z.string()).optional(),
      cmd: z.array(z.string()).optional(),
      /** `uid[:gid]` or a name the image's /etc/passwd knows. */
      user: z.string().min(1).optional(),
      workingDir: imagePath.optional(),
      env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
      labels: z.record(z.string(), z.string()).optional(),
      exposedPorts: z.array(z.string().regex(/^\d{1,5}(\/(tcp|udp|sctp))?$/)).optional(),
      stopSignal: z.string().regex(/^(SIG[A-Z0-9]+|\d+)$/).optional(),
    })
    .default({}),
});

export type ImageSpec = z.infer<typeof imageSpec>;

/** Parses a spec, with an error that names each bad field and how to fix it. */
export function parseImageSpec(json: unknown, where: string): ImageSpec {
  const result = imageSpec.safeParse(json);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `  ${i.path.join('.') || '(top)'}: ${i.message}`).join('\n');
  throw new Error(`${where} is not a valid image spec:\n${issues}`);
}

/** The OCI config fields of a spec's config. */
export function specConfig(config: ImageSpec['config']): ImageConfig {
  const out: ImageConfig = {};
  if (config.entrypoint) out.Entrypoint = config.entrypoint;
  if (config.cmd) out.Cmd = config.cmd;
  if (config.user) out.User = config.user;
  if (config.workingDir) out.WorkingDir = config.workingDir;
  if (config.env) out.Env = Object.entries(config.env).map(([k, v]) => `${k}=${v}`);
  if (config.labels) out.Labels = config.labels;
  if (config.exposedPorts) out.ExposedPorts = Object.fromEntries(config.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}]));
  if (config.stopSignal) out.StopSignal = config.stopSignal;
  return out;
}

/** The spec's tar entries: the listed ones (directories walked), missing parents added, each path once. */
export async function specEntries(spec: ImageSpec): Promise<TarEntry[]> {
  const rel = (p: string) => p.slice(1);
  const listed: TarEntry[] = [];
  for (const f of spec.files) {
    if ('symlink' in f) listed.push({ type: 'symlink', path: rel(f.path), target: f.symlink, uid: 0, gid: 0 });
    else if ('directory' in f) listed.push({ type: 'dir', path: rel(f.path), mode: parseInt(f.mode, 8), uid: f.uid, gid: f.gid });
    else {
      const tree = await treeEntries(f.source, rel(f.path), { uid: f.uid, gid: f.gid }).catch((err: NodeJS.ErrnoException) => {
        throw new Error(`files: ${f.path}: cannot read ${f.source} (${err.code ?? err.message})`, { cause: err });
      });
      if (f.mode && tree[0]!.type !== 'symlink') tree[0] = { ...tree[0]!, mode: parseInt(f.mode, 8) };
      listed.push(...tree);
    }
  }
  const seen = new Set<string>();
  for (const e of listed) {
    if (seen.has(e.path)) throw new Error(`files: /${e.path} appears twice in the spec`);
    seen.add(e.path);
  }
  const parents = parentDirs(listed.map((e) => e.path)).filter((d) => !seen.has(d.path));
  return [...parents, ...listed].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The plan for a spec; the image is `<name>:<version>-<key>`. */
export async function specImage(spec: ImageSpec, memo: string): Promise<ImagePlan> {
  const entries = await specEntries(spec);
  const config = specConfig(spec.config);
  return {
    name: spec.name.slice(spec.name.lastIndexOf('/') + 1),
    repository: spec.name,
    version: spec.version,
    layers: [entriesLayer(keyOf(['spec', await entriesKey(entries, memo)]), `${spec.files.length} file(s) for ${spec.name}`, entries)],
    config,
    inputs: { spec: spec.files.map((f) => ('source' in f ? `${f.path} <- ${f.source}` : f.path)) },
  };
}
