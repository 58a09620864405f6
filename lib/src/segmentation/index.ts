// Segmentation: the TGS salt homework. Masks as data, run-length codes, losses and metrics for masks, a
// U-Net, and a synthetic stand-in for the competition's data.
export { rleEncode, rleDecode, toMask, readRleCsv, readIdCsv, writeSubmission, type Mask } from "./rle";
export { SegmentationDataLoaders, MaskLoader, reflectPad, cropCenter, padBefore, readImageStack, type SegmentationOptions } from "./data";
export { pixelBCE, softDiceLoss, lovaszHingeLoss, type ReductionOption } from "./losses";
export { dice, iou, saltScore, dropSmallMasks, SALT_THRESHOLDS } from "./metrics";
export { UNet, ConvBnRelu, JoinConvBnRelu, UpConv2x, SegmentationLearner, unetLearner, bceLovaszLoss, MIN_PIXEL_CANDIDATES, type UNetOptions, type UNetLearnerOptions, type MaskPreds, type MinPixelsOptions, type MinPixelsChoice } from "./unet";
export { showMaskBatch, overlayPng, masksHtml, TRUTH_COLOR, PREDICTION_COLOR, type ShowMasksOptions } from "./show";
export { makeSyntheticSalt, syntheticSaltImage, tgsSalt, isSyntheticSalt, SALT_SIZE, type SaltData, type SyntheticSaltOptions, type SaltShape } from "./synthetic";
export { decodeGrayLevels, decodeMaskBits, encodePng } from "./png";
