import { planWaves } from '../../../lambda/common/waves';

interface Item { readonly key: string; readonly n: number; readonly bytes: number }
const item = (key: string, n: number, bytes = 1): Item => ({ key, n, bytes });
const limits = (maxItems: number, maxBytes: number) => ({ maxItems, maxBytes, orderKeyOf: (i: Item) => i.key, bytesOf: (i: Item) => i.bytes });
const names = (waves: Item[][][]) => waves.map((wave) => wave.map((call) => call.map((i) => `${i.key}${i.n}`)));

describe('planWaves', () => {
  test('puts the n-th item of each key in the n-th wave, keeping input order inside a wave', () => {
    const items = [item('a', 0), item('b', 1), item('a', 2), item('c', 3), item('a', 4), item('b', 5)];
    expect(names(planWaves(items, limits(10, 100)))).toEqual([[['a0', 'b1', 'c3']], [['a2', 'b5']], [['a4']]]);
  });

  test('cuts a wave into calls of at most maxItems items', () => {
    const items = Array.from({ length: 7 }, (_, n) => item(`k${n}`, n));
    expect(planWaves(items, limits(3, 100)).map((wave) => wave.map((call) => call.length))).toEqual([[3, 3, 1]]);
  });

  test('cuts a wave into calls of at most maxBytes, and gives an item larger than that a call of its own', () => {
    const items = [item('a', 0, 40), item('b', 1, 40), item('c', 2, 40), item('d', 3, 150), item('e', 4, 10)];
    expect(names(planWaves(items, limits(10, 100)))).toEqual([[['a0', 'b1'], ['c2'], ['d3'], ['e4']]]);
  });

  test('plans nothing for no items', () => {
    expect(planWaves([], limits(10, 100))).toEqual([]);
  });
});
