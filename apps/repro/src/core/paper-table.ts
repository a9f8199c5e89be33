/** The paper's Table 1 (ICML 2013): music NLL per time step, PTB bits per character. */

export interface PaperRow {
  train: [number | null, number | null, number | null];
  test: [number | null, number | null, number | null];
  /** best RNN then / best overall then (test where given) */
  bestRnn: { train: number | null; test: number | null };
  bestOverall: { train: number | null; test: number | null };
}

/** SGD, SGD+C, SGD+CR per data set, as paper.md lists them. */
export const TABLE1: Record<string, PaperRow> = {
  'piano-midi': {
    train: [6.87, 6.81, 7.01],
    test: [7.56, 7.53, 7.46],
    bestRnn: { train: 7.04, test: 7.57 },
    bestOverall: { train: 6.32, test: 7.05 },
  },
  nottingham: {
    train: [3.67, 3.21, 2.95],
    test: [3.8, 3.48, 3.36],
    bestRnn: { train: 3.2, test: 3.43 },
    bestOverall: { train: 1.81, test: 2.31 },
  },
  musedata: {
    train: [8.25, 6.54, 6.43],
    test: [7.11, 7.0, 6.97],
    bestRnn: { train: 6.47, test: 6.99 },
    bestOverall: { train: 5.2, test: 5.6 },
  },
  jsb: {
    train: [null, null, null],
    test: [null, null, null],
    bestRnn: { train: null, test: null },
    bestOverall: { train: null, test: null },
  },
  'ptb-1': {
    train: [1.46, 1.34, 1.36],
    test: [1.5, 1.42, 1.41],
    bestRnn: { train: null, test: 1.41 },
    bestOverall: { train: null, test: 1.37 },
  },
  'ptb-5': {
    train: [null, 3.76, 3.7],
    test: [null, 3.89, 3.74],
    bestRnn: { train: null, test: null },
    bestOverall: { train: null, test: null },
  },
};

export const METHOD_INDEX = { SGD: 0, 'SGD-C': 1, 'SGD-CR': 2 } as const;
