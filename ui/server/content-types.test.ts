import { contentTypeOf, isHashedName } from './content-types.js';
import { cacheControlOf } from './static.js';

describe('content types and caching', () => {
  it('types the bundle’s files by extension; anything else is an opaque download', () => {
    expect(contentTypeOf('/a/index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeOf('app-X.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('rfb.wasm')).toBe('application/wasm');
    expect(contentTypeOf('notes.sh')).toBe('application/octet-stream');
  });

  it('caches hashed assets for a year and revalidates everything else', () => {
    expect(isHashedName('app-ABCD1234.js')).toBe(true);
    expect(isHashedName('app-ABCD1234.js.map')).toBe(true);
    expect(cacheControlOf('/x/assets/chunk-Q2W3E4R5.js')).toBe('public, max-age=31536000, immutable');
    expect(cacheControlOf('/x/index.html')).toBe('no-cache');
    expect(cacheControlOf('/x/favicon.svg')).toBe('no-cache');
  });
});
