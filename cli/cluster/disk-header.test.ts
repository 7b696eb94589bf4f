import { claimSizeFor, readHeader } from './disk-header.js';

function qcow2(virtualSize: number): Buffer {
  const head = Buffer.alloc(512);
  head.writeUInt32BE(0x514649fb, 0);
  head.writeUInt32BE(3, 4);
  head.writeBigUInt64BE(BigInt(virtualSize), 24);
  return head;
}

function vmdk(sectors: number): Buffer {
  const head = Buffer.alloc(512);
  head.write('KDMV', 0, 'latin1');
  head.writeUInt32LE(1, 4);
  head.writeBigUInt64LE(BigInt(sectors), 12);
  return head;
}

describe('the claim size for an upload', () => {
  it('reads the virtual size of qcow2 and VMDK, so a small file of a large disk gets a claim that holds the disk', () => {
    expect(readHeader(qcow2(10 * 2 ** 30))).toEqual({ format: 'qcow2', virtualSize: 10 * 2 ** 30 });
    expect(readHeader(vmdk(2 * 2 ** 21))).toEqual({ format: 'vmdk', virtualSize: 2 * 2 ** 30 });
    // a 300 MiB qcow2 of a 10 GiB disk: 10 GiB plus 1% (103 MiB) and rounded
    expect(claimSizeFor(readHeader(qcow2(10 * 2 ** 30)), 300 * 2 ** 20)).toBe(`${10 * 1024 + 103}Mi`);
  });

  it('sizes raw files and ISOs by the file, with at least 64 MiB of room', () => {
    expect(readHeader(Buffer.from('CD001 and other bytes'))).toEqual({ format: 'raw' });
    expect(claimSizeFor({ format: 'raw' }, 2 ** 20)).toBe('65Mi');
    expect(claimSizeFor({ format: 'raw' }, 2 ** 20 + 1)).toBe('66Mi');
  });

  it('knows no size for gzip and xz: --size must say it', () => {
    expect(readHeader(Buffer.from([0x1f, 0x8b, 8, 0]))).toEqual({ format: 'compressed', kind: 'gzip' });
    expect(readHeader(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0]))).toEqual({ format: 'compressed', kind: 'xz' });
    expect(claimSizeFor({ format: 'compressed', kind: 'xz' }, 100)).toBeUndefined();
  });
});
