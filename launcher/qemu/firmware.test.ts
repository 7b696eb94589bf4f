import { LauncherInputError } from './errors.js';
import { firmwareFragment, OVMF_CODE, OVMF_VARS_TEMPLATE } from './firmware.js';
import { flagValues } from '../../test/fakes/launcher-vm.js';

describe('firmwareFragment', () => {
  it('bios needs nothing: SeaBIOS is built in', () => {
    expect(firmwareFragment('bios', undefined)).toEqual({ args: [] });
  });

  it('efi: read-only code and writable vars as raw pflash nodes', () => {
    const result = firmwareFragment('efi', { code: OVMF_CODE, vars: '/run/vars.fd' });
    expect(result.pflash).toEqual({ code: 'fw-code', vars: 'fw-vars' });
    expect(flagValues(result.args, '-blockdev').map((j) => JSON.parse(j) as unknown)).toEqual([
      { driver: 'file', filename: OVMF_CODE, 'node-name': 'fw-code-file', 'read-only': true },
      { driver: 'raw', file: 'fw-code-file', 'node-name': 'fw-code', 'read-only': true },
      { driver: 'file', filename: '/run/vars.fd', 'node-name': 'fw-vars-file', 'read-only': false },
      { driver: 'raw', file: 'fw-vars-file', 'node-name': 'fw-vars', 'read-only': false },
    ]);
  });

  it.each([
    ['no paths', undefined],
    ['empty vars', { code: OVMF_CODE, vars: '' }],
  ])('efi without firmware paths (%s) is a launcher error', (_name, paths) => {
    expect(() => firmwareFragment('efi', paths)).toThrow(LauncherInputError);
    expect(() => firmwareFragment('efi', paths)).toThrow(OVMF_VARS_TEMPLATE);
  });

  it('points at Debian OVMF 4M files', () => {
    expect([OVMF_CODE, OVMF_VARS_TEMPLATE]).toEqual(['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd']);
  });
});
