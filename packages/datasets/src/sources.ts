/**
 * Canonical sources of the real data sets and the sha256 of each file (from the project's data
 * README: the copies there are byte-identical to the originals).
 */

export interface SourceFile {
  /** file name in a data directory and in the cache */
  fileName: string;
  /** other names the same file is known by (the original music pickles have spaces) */
  aliases: string[];
  sha256: string;
  bytes: number;
}

/** Mikolov's simple-examples release; the char files are members `simple-examples/data/<file>`. */
export const PTB_SOURCE = {
  url: 'http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz',
  memberDir: 'simple-examples/data',
  files: {
    train: {
      fileName: 'ptb.char.train.txt',
      aliases: [],
      sha256: 'e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9',
      bytes: 10_034_964,
    },
    valid: {
      fileName: 'ptb.char.valid.txt',
      aliases: [],
      sha256: '21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8',
      bytes: 786_084,
    },
    test: {
      fileName: 'ptb.char.test.txt',
      aliases: [],
      sha256: '1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe',
      bytes: 884_846,
    },
  } satisfies Record<'train' | 'valid' | 'test', SourceFile>,
};

export type MusicSetName = 'jsb' | 'nottingham' | 'musedata' | 'piano-midi';

export const MUSIC_SET_NAMES: readonly MusicSetName[] = ['jsb', 'nottingham', 'musedata', 'piano-midi'];

/** Boulanger-Lewandowski, Bengio & Vincent (ICML 2012): the pickles on the paper's page. */
export const MUSIC_SOURCES: Record<MusicSetName, SourceFile & { url: string }> = {
  jsb: {
    url: 'http://www-etud.iro.umontreal.ca/~boulanni/JSB%20Chorales.pickle',
    fileName: 'JSB_Chorales.pickle',
    aliases: ['JSB Chorales.pickle'],
    sha256: '69dc4c3e52800959ac0ab3b82aa3e5f55285ce64f1705acb3e3a8ef77a5c051c',
    bytes: 2_051_809,
  },
  nottingham: {
    url: 'http://www-etud.iro.umontreal.ca/~boulanni/Nottingham.pickle',
    fileName: 'Nottingham.pickle',
    aliases: [],
    sha256: 'c00cd14b74137a28bf0b5703b47833523069e68073ecc1bd3c3e8bf4efb1c67f',
    bytes: 24_328_483,
  },
  musedata: {
    url: 'http://www-etud.iro.umontreal.ca/~boulanni/MuseData.pickle',
    fileName: 'MuseData.pickle',
    aliases: [],
    sha256: 'b109ebdb74b57c6cc245b31af0e19ac52c7ff1673ffb2ae5d1225dba60d6d3ec',
    bytes: 31_533_329,
  },
  'piano-midi': {
    url: 'http://www-etud.iro.umontreal.ca/~boulanni/Piano-midi.de.pickle',
    fileName: 'Piano-midi.de.pickle',
    aliases: [],
    sha256: '273d593b13d9a348410d261c0223d47523e2a9b41702137aaab5922242518296',
    bytes: 7_413_484,
  },
};
