// fastbook-ts: what the MNIST basics notebooks import. The chapter's library; the engine that makes
// TensorFlow.js fast or complete on a backend stays behind initBackend (engine tools: "fastbook-ts/engine").
export { tf } from "./tf";
export type { Tensor } from "./tf";
export { initBackend, describeBackend, BACKENDS, type BackendName, type BackendChoice } from "./engine/backend";
export { URLs, archiveName, folderName, type DatasetUrl } from "./data/urls";
export { untarData, downloadData, defaultDataDir, type UntarOptions } from "./data/untar";
export { readGray, openImage, ls, stackImages, readImageValues, bytesToUnitTensor, tensorToPng, type GrayImage, type ColorMap, type ImageValues, type StackOptions, type ImageMode } from "./data/images";
export { showImage, showImages, imagesHtml, pixelTable, pixelTableHtml, item, fmt, showBatch, showBatchHtml, type ShowImageOptions, type ShowImagesOptions, type ShowBatchOptions } from "./display";
export { l1Distance, rmseDistance, mnistDistance } from "./distances";
export { l1Loss, mseLoss, rmseLoss, sigmoid, mnistLossOnProbabilities, mnistLoss, binaryCrossEntropy, crossEntropy, type LossOptions } from "./losses";
export { batchAccuracy, accuracy } from "./metrics";
export { setValueChecks } from "./checks";
export { DataLoader, DataLoaders, range, enumerate, seededRandom, shuffled, tensorDataset, type TensorDataset, type HostDataset, type DataLoaderOptions } from "./dataloader";
export { plotFunction, plotFunctionHtml, linePlot, linePlotHtml, subplotsRow, subplotsRowHtml, heatmap, heatmapHtml, resetPlotlyInlining, type Series, type Panel, type PlotOptions, type HeatmapOptions } from "./plot";
export { stepsDiagram, stepsDiagramHtml } from "./diagram";
export {
  Linear, ReLU, Sequential, Conv2d, Reshape, GlobalAvgPool, countParameters, buffersOf, Flatten, BatchNorm2d, BatchNorm1d, Dropout,
  MaxPool2d, AdaptiveAvgPool2d, AdaptiveConcatPool2d, type Module, type Init,
} from "./nn";
export { BasicBlock, ResNet, resnet18, type ResNetOptions } from "./models/resnet";
export { visionLearner, createHead, createVisionModel, type VisionArch, type VisionLearnerOptions, type ImageLoaders } from "./vision";
export { BasicOptim, SGD, Adam, SGDOptim, AdamOptim, sgd, adam, GradStore, backward, type Optimizer, type SGDOptions, type AdamOptions } from "./optim";
export { Learner, type LossFunc, type Metric, type OptFunc, type BatchSource, type Loaders, type StopInfo } from "./learner";
export { CancelFit, CancelEpoch, CancelTrain, CancelValidate, CancelBatch, EVENTS, defaults, withCallbacks, type Callback, type CallbackClass, type EventName } from "./callbacks/core";
export { Recorder, type EpochRecord } from "./callbacks/recorder";
export { ProgressTable } from "./callbacks/progress-table";
export { ParamScheduler, fitOneCycle, schedLin, schedCos, schedExp, combineScheds, combinedCos, type Schedule, type Hyper, type OneCycleOptions } from "./callbacks/schedule";
export { lrFind, LRFinder, plotLrFind, plotLrFindHtml, suggestLrs, type LrFindOptions, type LrFindResult, type LrSuggestions } from "./callbacks/lr-find";
export { getPreds, ClassificationInterpretation, type Preds, type TopLoss, type InterpretationOptions } from "./interpret";
export { DivergenceGuard, TrainingDiverged, type DivergenceGuardOptions } from "./callbacks/divergence";
export { Interrupted, InterruptWatch, interruptible } from "./interrupt";
export { fastPaths, type FastPaths } from "./fast-paths";
export { inJupyter, showHtml, escapeHtml } from "./jupyter";
export { Comparisons, pearson, formatDiff, type Comparison } from "./compare";
import { prepareNotebook } from "./jupyter";
prepareNotebook();
export { ProgressBar, formatBytes } from "./progress-bar";
export { getImageFiles, parentLabel, grandparentName, grandparentSplitter, randomSplitter, IMAGE_EXTENSIONS, type Splitter, type GetImageFilesOptions } from "./data/folders";
export { readIdx, parseIdx, writeIdx, idxFilesIn, FASHION_MNIST_PATH, FASHION_MNIST_CLASSES, type IdxArray, type IdxDtype, type IdxData, type IdxFiles } from "./data/idx";
export { ImageDataLoaders, ImageDataset, type ImageDataLoadersOptions, type FromFolderOptions, type PixelStats, type ImageSource } from "./data/image-dataloaders";
export * from "./segmentation";
