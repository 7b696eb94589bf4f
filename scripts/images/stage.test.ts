import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../bundle.js';
import { debianBase, nodeBase, SCRATCH, type NodeBinary } from './bases.js';
import { parseDockerfile, stage } from './dockerfile.js';
import { copyDestination, planStage } from './stage.js';

const NODE: NodeBinary = { path: '/usr/bin/node', digest: 'd'.repeat(64), version: '20.20.2', libraryPackages: ['libc6', 'libstdc++6'] };
const BASES = { DEBIAN_IMAGE: debianBase('debian:bookworm-slim'), NODE_IMAGE: nodeBase('node:20-bookworm-slim', NODE) };

describe('planStage on the project Dockerfile', () => {
  let text: string;
  beforeAll(async () => {
    text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  });

  it('runs the launcher stage RUNs in a slim bookworm rootfs, then one layer per COPY, ending as the qemu user', () => {
    const plan = planStage(stage(parseDockerfile(text), 'launcher'), { bases: BASES });
    expect(plan.base.rootfs).toMatchObject({ suite: 'bookworm', slim: true, include: [] });
    expect(plan.runs.map((r) => r.run.split(' ')[0])).toEqual(['groupadd', 'apt-get']);
    expect(plan.runs[0]!.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(plan.layers.map((l) => [l.copy.sources, l.workdir])).toEqual([
      [['/usr/local/bin/node'], '/'],
      [['/src/dist/launcher.mjs', '/src/dist/launcher.mjs.map'], '/app'],
    ]);
    expect(plan.layers[1]!.workdirs).toEqual(['/app']);
    expect(plan.config).toEqual({ Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], WorkingDir: '/app', User: '107:107', Entrypoint: ['node', '/app/launcher.mjs'] });
  });

  it('builds the operator on the node stand-in: its libraries, the node user, node at /usr/local/bin, no inherited CMD', () => {
    const plan = planStage(stage(parseDockerfile(text), 'operator'), { bases: BASES });
    expect(plan.base.rootfs!.include).toEqual(['libc6', 'libstdc++6']);
    expect(plan.base.rootfs!.steps).toContainEqual({ upload: '/usr/bin/node', path: '/usr/local/bin/node', mode: 0o755 });
    expect(plan.runs).toEqual([]);
    expect(plan.config).toMatchObject({ User: '65532:65532', WorkingDir: '/app', Entrypoint: ['node', '/app/operator.mjs'] });
    expect(plan.config.Cmd).toBeUndefined();
    expect(plan.config.Env).toContain('NODE_VERSION=20.20.2');
  });
});

describe('planStage refuses what it cannot build exactly', () => {
  const plan = (body: string) => planStage(parseDockerfile(`FROM \${DEBIAN_IMAGE} AS s\n${body}`).stages[0]!, { bases: BASES });

  it.each([
    ['COPY a /a\nRUN true', 'a RUN after COPY/ADD'],
    ['USER 1\nRUN true', 'a RUN after USER'],
    ['RUN --mount=type=cache,target=/x true', 'RUN flags'],
    ['HEALTHCHECK CMD true', 'HEALTHCHECK is not supported'],
    ['ADD https://example.com/x /x', 'ADD of a URL or an archive'],
  ])('%j', (body, message) => {
    expect(() => plan(body)).toThrow(message);
  });

  it('names the FROM it has no stand-in for', () => {
    expect(() => planStage(parseDockerfile('FROM alpine AS a\n').stages[0]!, { bases: BASES })).toThrow('FROM alpine has no Docker-free stand-in; known: DEBIAN_IMAGE, NODE_IMAGE');
  });

  it('creates a WORKDIR before the RUNs inside the rootfs, and substitutes stage ARGs into ADD sources', () => {
    expect(plan('WORKDIR /w\nRUN true').runs.map((r) => r.run)).toEqual(['mkdir -p /w', 'true']);
    const pause = planStage(parseDockerfile('ARG BASE\nFROM ${BASE}\nARG ARCH\nADD bin/pause-linux-${ARCH} /pause\n').stages[0]!, { bases: { BASE: SCRATCH }, buildArgs: { ARCH: 'amd64' } });
    expect(pause.layers[0]!.copy.sources).toEqual(['bin/pause-linux-amd64']);
  });
});

describe('bases', () => {
  it('want the node major version the Dockerfile names', () => {
    expect(() => nodeBase('node:22-bookworm-slim', NODE)).toThrow('wants Node 22 but /usr/bin/node is 20.20.2; point KUBEVMM_NODE_BINARY');
    expect(() => debianBase('ubuntu:24.04')).toThrow('knows debian:<suite>[-slim] only');
    expect(debianBase('mirror.example/library/debian:trixie').rootfs).toMatchObject({ suite: 'trixie', slim: false });
  });
});

describe('copyDestination', () => {
  it('follows Docker: a trailing slash or several sources make a directory; relative paths use WORKDIR', () => {
    expect(copyDestination({ keyword: 'COPY', sources: ['/a/x'], dest: '/d/' }, '/a/x')).toBe('/d/x');
    expect(copyDestination({ keyword: 'COPY', sources: ['/a/x'], dest: '/d' }, '/a/x')).toBe('/d');
    expect(copyDestination({ keyword: 'COPY', sources: ['x', 'y'], dest: 'out' }, 'y', '/app')).toBe('/app/out/y');
  });
});
