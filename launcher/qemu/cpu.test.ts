import { cpuFragment, cpuModel } from './cpu.js';

describe('cpuModel', () => {
  it.each([
    ['host-passthrough', 'kvm', 'host'],
    ['host-passthrough', 'tcg', 'max'],
    ['host-model', 'kvm', 'host'],
    ['host-model', 'tcg', 'max'],
    ['Skylake-Server', 'kvm', 'Skylake-Server'],
    ['qemu64', 'tcg', 'qemu64'],
  ] as const)('%s under %s -> %s', (model, accel, expected) => {
    expect(cpuModel(model, accel)).toBe(expected);
  });
});

describe('cpuFragment', () => {
  const cpu = { sockets: 2, cores: 2, threads: 1, vcpus: 4, model: 'host-passthrough', dedicated: false };

  it('gives model and topology', () => {
    expect(cpuFragment(cpu, 'tcg').args).toEqual(['-cpu', 'max', '-smp', '4,sockets=2,cores=2,threads=1']);
  });

  it('cannot smuggle CPU properties in through the model name', () => {
    expect(cpuFragment({ ...cpu, model: 'qemu64,+x' }, 'kvm').args[1]).toBe('qemu64,,+x');
  });
});
