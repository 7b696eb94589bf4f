import { aptInstalls, commandOf, copies, dockerignore, keyValues, parseDockerfile, stage, stageConfig, substitute } from './dockerfile.js';

const TEXT = `# syntax=docker/dockerfile:1
ARG BASE=debian:bookworm-slim
ARG OTHER
FROM \${BASE} AS one
# a comment inside a continued RUN is dropped, as Docker drops it
RUN apt-get update \\
# here
 && apt-get install -y --no-install-recommends a b=1.2 \\
      c:amd64 \\
 && apt-get install -y a d
ENV A=1 B="two words"
ENV C \${A}-x
WORKDIR /app
WORKDIR sub
COPY --from=build --chown=7:8 --chmod=0644 /x /y /dst/
USER 107:107
ENTRYPOINT ["node", "/app/x.mjs"]
FROM scratch
CMD echo hi
`;

describe('parseDockerfile', () => {
  const df = parseDockerfile(TEXT);

  it('reads global ARGs and substitutes them into FROM', () => {
    expect(df.args).toEqual({ BASE: 'debian:bookworm-slim', OTHER: '' });
    expect(df.stages.map((s) => [s.name, s.from, s.base])).toEqual([
      ['one', '${BASE}', 'debian:bookworm-slim'],
      ['', 'scratch', 'scratch'],
    ]);
  });

  it('joins continuations, drops comments, and lists apt-get install packages once, without pins', () => {
    expect(aptInstalls(stage(df, 'one'))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reads COPY flags, sources and destination', () => {
    expect(copies(stage(df, 'one'))).toEqual([{ keyword: 'COPY', from: 'build', chown: '7:8', chmod: '0644', sources: ['/x', '/y'], dest: '/dst/' }]);
  });

  it('names the stages there are when one is missing', () => {
    expect(() => stage(df, 'launcher')).toThrow('has no stage "launcher" (FROM ... AS launcher); it has: one, (unnamed)');
  });
});

describe('stageConfig (Docker semantics)', () => {
  const df = parseDockerfile(TEXT);

  it('resolves WORKDIR against the previous one, sets ENV in order, and drops the base CMD for ENTRYPOINT', () => {
    const config = stageConfig(stage(df, 'one'), { Env: ['PATH=/bin', 'A=0'], Cmd: ['bash'] });
    expect(config).toEqual({ Env: ['PATH=/bin', 'A=1', 'B=two words', 'C=1-x'], WorkingDir: '/app/sub', User: '107:107', Entrypoint: ['node', '/app/x.mjs'] });
  });

  it('keeps a CMD the stage sets itself after its ENTRYPOINT; shell form runs under /bin/sh -c', () => {
    const [s] = parseDockerfile('FROM x\nENTRYPOINT ["a"]\nCMD ["b"]\n').stages;
    expect(stageConfig(s!, { Cmd: ['base'] })).toEqual({ Entrypoint: ['a'], Cmd: ['b'] });
    expect(stageConfig(df.stages[1]!, {})).toEqual({ Cmd: ['/bin/sh', '-c', 'echo hi'] });
  });

  it('rejects an exec form that is not a list of strings', () => {
    expect(() => commandOf('["a", 1]')).toThrow('not a JSON list of strings');
  });
});

describe('helpers', () => {
  it('reads both ENV forms', () => {
    expect(keyValues('A=1 B="x \\"y\\""')).toEqual([
      ['A', '1'],
      ['B', 'x "y"'],
    ]);
    expect(keyValues('A one two')).toEqual([['A', 'one two']]);
  });

  it('substitutes known variables and leaves unknown ones', () => {
    expect(substitute('bin/pause-linux-${ARCH} $ARCH $NOPE', { ARCH: 'amd64' })).toBe('bin/pause-linux-amd64 amd64 $NOPE');
  });

  it('follows .dockerignore: directories exclude their content, ** spans directories, ! re-includes', () => {
    const ignored = dockerignore('node_modules\n**/*.test.ts\n*.log\n!keep.log\n');
    expect(ignored('node_modules/zod/index.js')).toBe(true);
    expect(ignored('launcher/qemu/plan.test.ts')).toBe(true);
    expect(ignored('launcher/qemu/plan.ts')).toBe(false);
    expect(ignored('a.log')).toBe(true);
    expect(ignored('keep.log')).toBe(false);
    expect(ignored('logs/a.log')).toBe(false);
  });
});
