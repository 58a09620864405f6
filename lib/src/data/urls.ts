// The data sets of the chapter, at fastai's addresses, with the size and md5 fastai checks them against.
/** Where a data set comes from and how its archive is checked; `untarData` takes one. */
export interface DatasetUrl {
  /** Upstream address of the archive. */
  url: string;
  /** Bytes and md5 of the upstream archive (a mirror is checked by its SHA256SUMS instead). */
  size: number;
  md5: string;
}

/** The chapter's data sets, as fastai's URLs names them: `await untarData(URLs.MNIST_SAMPLE)`. */
export const URLs = {
  MNIST_SAMPLE: {
    url: "https://s3.amazonaws.com/fast-ai-sample/mnist_sample.tgz",
    size: 3214948,
    md5: "2dbc7ec6f9259b583af0072c55816a88",
  },
  MNIST: {
    url: "https://s3.amazonaws.com/fast-ai-imageclas/mnist_png.tgz",
    size: 15683414,
    md5: "03639f83c4e3d19e0a3a53a8a997c487",
  },
} satisfies Record<string, DatasetUrl>;

/** "mnist_sample.tgz" for its URL. */
export function archiveName(d: DatasetUrl): string {
  return d.url.slice(d.url.lastIndexOf("/") + 1);
}

/** "mnist_sample": the folder the archive unpacks to. */
export function folderName(d: DatasetUrl): string {
  return archiveName(d).replace(/\.(tgz|tar\.gz|tar|zip)$/, "");
}
