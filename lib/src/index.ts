// fastbook-ts: what the MNIST basics notebooks import.
export { tf } from "./tf";
export type { Tensor } from "./tf";
export { initBackend, describeBackend, BACKENDS, type BackendName, type BackendChoice } from "./backend";
export { URLs, archiveName, folderName, type DatasetUrl } from "./data/urls";
export { untarData, downloadData, defaultDataDir, type UntarOptions } from "./data/untar";
export { readGray, openImage, ls, stackImages, tensorToPng, type GrayImage, type ColorMap } from "./data/images";
export { showImage, showImages, pixelTable, pixelTableHtml, type ShowImageOptions } from "./display";
export { l1Distance, rmseDistance, mnistDistance } from "./distances";
export { inJupyter, showHtml, escapeHtml } from "./jupyter";
export { ProgressBar, formatBytes } from "./progress";
