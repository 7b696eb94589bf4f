import { qemuCommand } from './process.js';

describe('qemuCommand', () => {
  it('runs QEMU itself by default (in a pod, the container ends it)', () => {
    expect(qemuCommand({ argv: ['-S', '-nodefaults'] })).toEqual(['qemu-system-x86_64', ['-S', '-nodefaults']]);
  });

  it('runs QEMU under setpriv with a parent-death signal when it must die with its parent (kubevmm play)', () => {
    expect(qemuCommand({ binary: '/usr/bin/qemu', argv: ['-S'], dieWithParent: true })).toEqual(['setpriv', ['--pdeathsig', 'TERM', '--', '/usr/bin/qemu', '-S']]);
  });
});
