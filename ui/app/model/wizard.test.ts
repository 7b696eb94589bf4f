import { checkManifest, fieldOfPath, manifestOf, userDataWithKey, WizardError, type WizardForm } from './wizard.js';
import { apiErrorOf, messageFor } from './status.js';

const form = (over: Partial<WizardForm> = {}): WizardForm => ({ namespace: 'ns', name: 'web', className: '', cpus: '2', memory: '2Gi', bootSource: 'containerDisk', bootValue: 'registry.example/os/debian:12', userData: '', sshKey: '', start: true, ...over });

describe('the wizard manifest', () => {
  it('builds a VM with the boot disk first and a cloud-init disk holding the SSH key', () => {
    const vm = manifestOf(form({ sshKey: 'ssh-ed25519 AAAA me@host', className: 'small' }));
    expect(vm.spec).toMatchObject({ runStrategy: 'Always', className: 'small', cpu: { sockets: 1, cores: 2, threads: 1 }, memory: { guest: '2Gi' } });
    expect(vm.spec.disks?.[0]).toEqual({ name: 'boot', containerDisk: { image: 'registry.example/os/debian:12' } });
    expect(vm.spec.disks?.[1]?.cloudInit?.userData).toBe('#cloud-config\nssh_authorized_keys:\n  - "ssh-ed25519 AAAA me@host"\n');
    expect(checkManifest(vm).size).toBe(0);
  });
  it('boots from a PVC or a VirtualMachineImage, and stays Halted when asked', () => {
    expect(manifestOf(form({ bootSource: 'pvc', bootValue: 'disk-1' })).spec.disks?.[0]).toEqual({ name: 'boot', persistentVolumeClaim: { claimName: 'disk-1' } });
    expect(manifestOf(form({ bootSource: 'image', bootValue: 'debian-12', start: false })).spec).toMatchObject({ runStrategy: 'Halted', disks: [{ name: 'boot', image: { name: 'debian-12' } }] });
  });
  it('names the field of each mistake: the schema\'s on name and memory, the form\'s on the boot disk and key', () => {
    expect(checkManifest(manifestOf(form({ name: 'Bad_Name' }))).get('name')).toMatch(/^metadata\.name: /);
    expect(checkManifest(manifestOf(form({ memory: 'lots' }))).get('memory')).toMatch(/^spec\.memory\.guest: /);
    expect(() => manifestOf(form({ bootValue: ' ' }))).toThrow(expect.objectContaining({ field: 'bootValue' }));
    expect(() => manifestOf(form({ cpus: '1.5' }))).toThrow(WizardError);
    expect(() => userDataWithKey('#!/bin/sh\necho hi', 'ssh-rsa X')).toThrow(/only be added to #cloud-config/);
    expect(() => userDataWithKey('#cloud-config\nssh_authorized_keys: []\n', 'ssh-rsa X')).toThrow(/already has ssh_authorized_keys/);
  });
  it('places a server cause on the form field its path belongs to', () => {
    expect(fieldOfPath('spec.memory.guest')).toBe('memory');
    expect(fieldOfPath('spec.disks.0.containerDisk.image')).toBe('bootValue');
    expect(fieldOfPath('spec.nodeSelector')).toBeUndefined();
  });
});

describe('a refused call', () => {
  it('keeps the Status message and its causes by field (list indexes as path segments)', () => {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 422, reason: 'Invalid', message: 'VirtualMachine "x" is invalid', details: { causes: [{ field: 'spec.disks[0].containerDisk.image', message: 'bad reference' }] } });
    const err = apiErrorOf(422, 'Unprocessable', body);
    expect(err).toMatchObject({ message: 'VirtualMachine "x" is invalid', code: 422, reason: 'Invalid' });
    expect(messageFor(err.fields, 'spec.disks.0')).toBe('bad reference');
  });
  it('shows a body that is not a Status as it came, and an empty one as the HTTP status', () => {
    expect(apiErrorOf(502, 'Bad Gateway', 'upstream down').message).toBe('upstream down');
    expect(apiErrorOf(503, 'Service Unavailable', '').message).toBe('503 Service Unavailable');
  });
});
