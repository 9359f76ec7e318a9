import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { check, accepts } from './helpers';
import { findPackageFile } from '../../../src/engine/grammar/load';

describe('grammar engine: JavaScript and TypeScript (with the scanner emulation)', () => {
  it('automatic semicolons: inserted at newlines, `}` and end of input, not before binary operators', () => {
    assert.ok(accepts('javascript', 'let x = 1\nlet y = 2\n'));
    assert.ok(accepts('javascript', 'function f() { return 1 }'));
    assert.ok(accepts('javascript', 'a\n++b\n'));
    assert.ok(accepts('javascript', 'x = a\n  + b\n'), 'a line starting with + continues the expression');
    assert.ok(accepts('javascript', 'x = 1 // comment\ny = 2'));
    assert.deepEqual(check('javascript', 'let x = 1 let y = 2\n'), { accepted: false, deadAt: 10 });
  });

  it('templates, regex literals vs division, ternary vs optional chaining, comments', () => {
    assert.ok(accepts('javascript', 'const s = `a ${b + `c${d}`} $ {e}`;\n'));
    assert.ok(accepts('javascript', 'const r = /ab+c/g.test(s); x = a / b / c;\n'));
    assert.ok(accepts('javascript', 'x = a ? b : c; y = a?.b ?? c; z = a ?.5 : 1\n'));
    assert.ok(accepts('javascript', 'a = 1 /* c */ / 2\n'));
    assert.ok(accepts('javascript', 'class A {\n  static get\n  x() {}\n  static m() { return this.#p }\n  #p = 1\n}\n'));
    assert.equal(accepts('javascript', 'x = `abc'), false);
  });

  it('TypeScript: types, optional parameters, generics', () => {
    assert.ok(accepts('typescript', 'function f<T>(a: T[], options?: { k: string }): void {}\n'));
    assert.ok(accepts('typescript', 'interface I { a?: number; b(): string }\ntype U = A | B\nconst x = y as unknown as I\n'));
    assert.equal(accepts('typescript', 'let x: = 1\n'), false);
    // TypeScript's ternary `?` refuses `?:`, `?)`, `?,` even after whitespace (optional members)
    assert.ok(accepts('typescript', 'const v = c ?  x : y\nclass K { m? : number; n?\n: string }\n'));
  });

  it('accepts real files from npm packages, every prefix viable', () => {
    const js = findPackageFile('mocha', 'lib/context.js');
    const ts = findPackageFile('@types/node', 'assert.d.ts');
    if (js) assert.deepEqual(check('javascript', fs.readFileSync(js, 'utf8')), { accepted: true, deadAt: null }, js);
    if (ts) assert.deepEqual(check('typescript', fs.readFileSync(ts, 'utf8')), { accepted: true, deadAt: null }, ts);
    assert.ok(js || ts);
  });
});
