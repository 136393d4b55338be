"""The default config tree.

Every key keeps the name, nesting and default value it has in PySlowFast, so
YAML files and command-line overrides written for it load unchanged. Keys that
PySlowFast does not have are marked "(ours)" in their comment.

Groups are built by one small function each, so the file reads by topic.
"""

from fvcore.common.config import CfgNode

from slowfast.config import archs
from slowfast.config.unsupported import add_missing_keys
from slowfast.config.validation import assert_and_infer_cfg  # noqa: F401  (public API)


def _add_bn(_C: CfgNode) -> None:
    _C.BN = CfgNode()
    # Precise BN: recompute BN statistics over NUM_BATCHES_PRECISE batches before evaluation.
    _C.BN.USE_PRECISE_STATS = False
    # Number of batches used to recompute precise BN statistics.
    _C.BN.NUM_BATCHES_PRECISE = 200
    # Weight decay applied to BN parameters (0 disables it).
    _C.BN.WEIGHT_DECAY = 0.0
    # Norm type: "batchnorm", "sub_batchnorm" or "sync_batchnorm".
    _C.BN.NORM_TYPE = "batchnorm"
    # Number of splits of the batch for sub_batchnorm.
    _C.BN.NUM_SPLITS = 1
    # sync_batchnorm shares statistics within groups of this many devices of one machine (1 = no sync).
    _C.BN.NUM_SYNC_DEVICES = 1
    # Whether sync_batchnorm uses all processes in the job instead of NUM_SYNC_DEVICES groups.
    _C.BN.GLOBAL_SYNC = False
    # Epsilon added to the variance in BatchNorm.
    _C.BN.EPSILON = 1e-5
    # Momentum of the running statistics in BatchNorm.
    _C.BN.MOMENTUM = 0.1


def _add_train(_C: CfgNode) -> None:
    _C.TRAIN = CfgNode()
    # Whether to run training.
    _C.TRAIN.ENABLE = True
    # Dataset name used for training (a registered dataset, case-insensitive).
    _C.TRAIN.DATASET = "kinetics"
    # Total mini-batch size over all processes of the job.
    _C.TRAIN.BATCH_SIZE = 64
    # Evaluate on the validation set every this many epochs.
    _C.TRAIN.EVAL_PERIOD = 10
    # Save a checkpoint every this many epochs.
    _C.TRAIN.CHECKPOINT_PERIOD = 10
    # Also save a mid-epoch checkpoint every this many iterations (0: off) (ours).
    _C.TRAIN.CHECKPOINT_PERIOD_ITERS = 0
    # Keep only the newest this many checkpoints in OUTPUT_DIR/checkpoints (0: keep all) (ours).
    _C.TRAIN.CHECKPOINT_KEEP = 0
    # Resume from the newest checkpoint in OUTPUT_DIR/checkpoints when there is one.
    _C.TRAIN.AUTO_RESUME = True
    # Path of a checkpoint to initialise from ("" for none).
    _C.TRAIN.CHECKPOINT_FILE_PATH = ""
    # Format of CHECKPOINT_FILE_PATH: "pytorch" (.pyth), "caffe2" (.pkl) or "pytorchvideo" (PTV weights).
    _C.TRAIN.CHECKPOINT_TYPE = "pytorch"
    # Inflate 2D weights of the checkpoint into the 3D kernels of the model.
    _C.TRAIN.CHECKPOINT_INFLATE = False
    # Start from epoch 0 after loading CHECKPOINT_FILE_PATH (fine-tuning).
    _C.TRAIN.CHECKPOINT_EPOCH_RESET = False
    # Strings removed from checkpoint key names before loading (first occurrence), e.g. ("backbone.",).
    _C.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN = ()
    # Load CHECKPOINT_FILE_PATH in the model's initialisation (backbone-only loading).
    _C.TRAIN.CHECKPOINT_IN_INIT = False
    # Mixed precision training (bf16 or fp16 autocast, see TRAIN.MIXED_PRECISION_DTYPE).
    _C.TRAIN.MIXED_PRECISION = False
    # Autocast dtype for mixed precision: "float16" (with a grad scaler) or "bfloat16" (ours).
    _C.TRAIN.MIXED_PRECISION_DTYPE = "float16"
    # Allow checkpoints that need full (unsafe) unpickling; only for trusted files (ours).
    _C.TRAIN.CHECKPOINT_ALLOW_UNSAFE = False


def _add_aug(_C: CfgNode) -> None:
    _C.AUG = CfgNode()
    # Whether to use RandAugment-style augmentation (MViT recipes).
    _C.AUG.ENABLE = False
    # Number of repeated augmentations of each clip.
    _C.AUG.NUM_SAMPLE = 1
    # Colour jitter strength.
    _C.AUG.COLOR_JITTER = 0.4
    # AutoAugment policy string.
    _C.AUG.AA_TYPE = "rand-m9-mstd0.5-inc1"
    # Interpolation used by augmentations.
    _C.AUG.INTERPOLATION = "bicubic"
    # Random erasing probability.
    _C.AUG.RE_PROB = 0.25
    # Random erasing mode.
    _C.AUG.RE_MODE = "pixel"
    # Random erasing count.
    _C.AUG.RE_COUNT = 1
    # Do not erase the first augmented copy.
    _C.AUG.RE_SPLIT = False


def _add_mixup(_C: CfgNode) -> None:
    _C.MIXUP = CfgNode()
    # Whether to use mixup/cutmix.
    _C.MIXUP.ENABLE = False
    # Mixup alpha.
    _C.MIXUP.ALPHA = 0.8
    # Cutmix alpha.
    _C.MIXUP.CUTMIX_ALPHA = 1.0
    # Probability of applying mixup or cutmix.
    _C.MIXUP.PROB = 1.0
    # Probability of switching to cutmix when both are enabled.
    _C.MIXUP.SWITCH_PROB = 0.5
    # Label smoothing value.
    _C.MIXUP.LABEL_SMOOTH_VALUE = 0.1


def _add_test(_C: CfgNode) -> None:
    _C.TEST = CfgNode()
    # Whether to run testing.
    _C.TEST.ENABLE = True
    # Dataset name used for testing (a registered dataset, case-insensitive).
    _C.TEST.DATASET = "kinetics"
    # Total mini-batch size over all processes of the job at test time (in videos x views).
    _C.TEST.BATCH_SIZE = 8
    # Checkpoint used for testing ("" = the newest one in OUTPUT_DIR/checkpoints).
    _C.TEST.CHECKPOINT_FILE_PATH = ""
    # Number of clips sampled uniformly in time per video.
    _C.TEST.NUM_ENSEMBLE_VIEWS = 10
    # Number of spatial crops per clip (1 = centre, 3 = left/top, centre, right/bottom).
    _C.TEST.NUM_SPATIAL_CROPS = 3
    # Format of TEST.CHECKPOINT_FILE_PATH: "pytorch", "caffe2" or "pytorchvideo".
    _C.TEST.CHECKPOINT_TYPE = "pytorch"
    # Path to save predictions and labels to ("" disables); relative paths are under OUTPUT_DIR.
    _C.TEST.SAVE_RESULTS_PATH = ""
    # Fold each BatchNorm that follows a conv into the conv before testing (not a PySlowFast key;
    # same outputs to float rounding, fewer passes over the activations; see slowfast/models/fold_bn.py).
    _C.TEST.FOLD_BN = False


def _add_resnet(_C: CfgNode) -> None:
    _C.RESNET = CfgNode()
    # Transformation function of a residual block: "bottleneck_transform" or "basic_transform".
    _C.RESNET.TRANS_FUNC = "bottleneck_transform"
    # Number of groups (1 = ResNet, >1 = ResNeXt).
    _C.RESNET.NUM_GROUPS = 1
    # Width of each group (64 -> ResNet, 4 -> ResNeXt).
    _C.RESNET.WIDTH_PER_GROUP = 64
    # Apply ReLU in place.
    _C.RESNET.INPLACE_RELU = True
    # Put the spatial stride on the 1x1 conv instead of the 3x3 conv.
    _C.RESNET.STRIDE_1X1 = False
    # Initialise the last BN of each residual block to zero.
    _C.RESNET.ZERO_INIT_FINAL_BN = False
    # Initialise the last conv of each residual block to zero (MViT-era option).
    _C.RESNET.ZERO_INIT_FINAL_CONV = False
    # Network depth: 18, 34, 50, 101 or 152.
    _C.RESNET.DEPTH = 50
    # Number of blocks with a temporal kernel > 1 in each stage, per pathway.
    _C.RESNET.NUM_BLOCK_TEMP_KERNEL = [[3], [4], [6], [3]]
    # Spatial stride of each stage, per pathway.
    _C.RESNET.SPATIAL_STRIDES = [[1], [2], [2], [2]]
    # Spatial dilation of each stage, per pathway.
    _C.RESNET.SPATIAL_DILATIONS = [[1], [1], [1], [1]]


def _add_x3d(_C: CfgNode) -> None:
    _C.X3D = CfgNode()
    # Width expansion factor.
    _C.X3D.WIDTH_FACTOR = 1.0
    # Depth expansion factor.
    _C.X3D.DEPTH_FACTOR = 1.0
    # Bottleneck expansion factor of the 3x3x3 conv.
    _C.X3D.BOTTLENECK_FACTOR = 1.0
    # Output channels of the head's lin_5 1x1x1 conv (after the pool, before the projection).
    _C.X3D.DIM_C5 = 2048
    # Dimension of the first layer of the stem.
    _C.X3D.DIM_C1 = 12
    # Scale the residual width by the bottleneck factor.
    _C.X3D.SCALE_RES2 = False
    # Whether the head uses BN on the final conv.
    _C.X3D.BN_LIN5 = False
    # Use channelwise (depthwise) 3x3x3 convolution.
    _C.X3D.CHANNELWISE_3x3x3 = True


def _add_nonlocal(_C: CfgNode) -> None:
    _C.NONLOCAL = CfgNode()
    # Indices of the blocks after which a non-local block is inserted, per stage, per pathway.
    _C.NONLOCAL.LOCATION = [[[]], [[]], [[]], [[]]]
    # Number of groups the non-local block splits the time axis into, per stage, per pathway.
    _C.NONLOCAL.GROUP = [[1], [1], [1], [1]]
    # Non-local instantiation: "dot_product" or "softmax".
    _C.NONLOCAL.INSTANTIATION = "dot_product"
    # Pooling kernel applied to phi and g inside the non-local block, per stage, per pathway.
    _C.NONLOCAL.POOL = [
        [[1, 2, 2], [1, 2, 2]],
        [[1, 2, 2], [1, 2, 2]],
        [[1, 2, 2], [1, 2, 2]],
        [[1, 2, 2], [1, 2, 2]],
    ]


def _add_model(_C: CfgNode) -> None:
    _C.MODEL = CfgNode()
    # Model architecture: c2d, i3d, slow, slowfast, c2d_nopool, i3d_nopool, x3d, mvit.
    _C.MODEL.ARCH = "slowfast"
    # Registered model name: "ResNet", "SlowFast", "X3D", "MViT".
    _C.MODEL.MODEL_NAME = "SlowFast"
    # Number of classes to predict.
    _C.MODEL.NUM_CLASSES = 400
    # Loss function: cross_entropy, bce, bce_logit, soft_cross_entropy.
    _C.MODEL.LOSS_FUNC = "cross_entropy"
    # Model architectures with a single pathway.
    _C.MODEL.SINGLE_PATHWAY_ARCH = list(archs.SINGLE_PATHWAY_ARCH)
    # Model architectures with multiple pathways.
    _C.MODEL.MULTI_PATHWAY_ARCH = list(archs.MULTI_PATHWAY_ARCH)
    # Dropout rate before the final projection.
    _C.MODEL.DROPOUT_RATE = 0.5
    # Stochastic depth (drop path) rate.
    _C.MODEL.DROPCONNECT_RATE = 0.0
    # Standard deviation of the initialisation of the final projection.
    _C.MODEL.FC_INIT_STD = 0.01
    # Activation of the head at test time: "softmax", "sigmoid" or "none".
    _C.MODEL.HEAD_ACT = "softmax"
    # Activation checkpointing to save memory.
    _C.MODEL.ACT_CHECKPOINT = False
    # Detach the features before the final projection: the head trains, the backbone gets no gradient from it.
    _C.MODEL.DETACH_FINAL_FC = False
    # Use channels_last_3d memory format for the model and its inputs (ours).
    _C.MODEL.CHANNELS_LAST = False
    # Compile the model with torch.compile (ours).
    _C.MODEL.COMPILE = False


def _add_mvit(_C: CfgNode) -> None:
    _C.MVIT = CfgNode()
    # Pooling mode of attention: "conv", "avg" or "max".
    _C.MVIT.MODE = "conv"
    # Pool the input before the q/k/v projections (else after them).
    _C.MVIT.POOL_FIRST = False
    # Use a class token.
    _C.MVIT.CLS_EMBED_ON = True
    # Patch kernel size.
    _C.MVIT.PATCH_KERNEL = [3, 7, 7]
    # Patch stride.
    _C.MVIT.PATCH_STRIDE = [2, 4, 4]
    # Patch padding.
    _C.MVIT.PATCH_PADDING = [2, 4, 4]
    # Use 2D patch embedding.
    _C.MVIT.PATCH_2D = False
    # Base embedding dimension.
    _C.MVIT.EMBED_DIM = 96
    # Base number of heads.
    _C.MVIT.NUM_HEADS = 1
    # MLP ratio.
    _C.MVIT.MLP_RATIO = 4.0
    # QKV bias.
    _C.MVIT.QKV_BIAS = True
    # Drop path rate.
    _C.MVIT.DROPPATH_RATE = 0.1
    # Layer scale init value (0 disables it).
    _C.MVIT.LAYER_SCALE_INIT_VALUE = 0.0
    # Number of transformer blocks.
    _C.MVIT.DEPTH = 16
    # Normalisation layer.
    _C.MVIT.NORM = "layernorm"
    # Dimension multipliers: [[block index, multiplier], ...].
    _C.MVIT.DIM_MUL = []
    # Head multipliers: [[block index, multiplier], ...].
    _C.MVIT.HEAD_MUL = []
    # Pooling kernel of K and V.
    _C.MVIT.POOL_KV_STRIDE = []
    # Adaptive K/V pooling stride.
    _C.MVIT.POOL_KV_STRIDE_ADAPTIVE = None
    # Pooling stride of Q per block.
    _C.MVIT.POOL_Q_STRIDE = []
    # Pooling kernel of K, V and Q.
    _C.MVIT.POOL_KVQ_KERNEL = None
    # Zero-decay for position embeddings.
    _C.MVIT.ZERO_DECAY_POS_CLS = True
    # Normalise the pooled stem.
    _C.MVIT.NORM_STEM = False
    # Separate space and time position embeddings.
    _C.MVIT.SEP_POS_EMBED = False
    # Dropout rate.
    _C.MVIT.DROPOUT_RATE = 0.0
    # Use absolute position embeddings.
    _C.MVIT.USE_ABS_POS = True
    # Use relative position embeddings in space.
    _C.MVIT.REL_POS_SPATIAL = False
    # Use relative position embeddings in time.
    _C.MVIT.REL_POS_TEMPORAL = False
    # Initialise relative position embeddings with zeros.
    _C.MVIT.REL_POS_ZERO_INIT = False
    # Residual pooling connection.
    _C.MVIT.RESIDUAL_POOLING = False
    # Expand the dimension in attention.
    _C.MVIT.DIM_MUL_IN_ATT = False
    # Separate QKV projections.
    _C.MVIT.SEPARATE_QKV = False
    # Use the mean of patch tokens instead of the class token.
    _C.MVIT.USE_MEAN_POOLING = False
    # Use a fixed sine-cosine position embedding.
    _C.MVIT.USE_FIXED_SINCOS_POS = False
    # Scale of the head projection's initial weights and bias.
    _C.MVIT.HEAD_INIT_SCALE = 1.0
    # Reversible MViT options (not built here: each is refused when set to a non-default value).
    _C.MVIT.REV = CfgNode()
    # Use the reversible MViT.
    _C.MVIT.REV.ENABLE = False
    # How the two residual streams are fused before the head.
    _C.MVIT.REV.RESPATH_FUSE = "concat"
    # Blocks kept non-reversible (buffer layers).
    _C.MVIT.REV.BUFFER_LAYERS = []
    # Residual path of the stage-transition blocks.
    _C.MVIT.REV.RES_PATH = "conv"
    # Fusion of the two streams before query pooling.
    _C.MVIT.REV.PRE_Q_FUSION = "avg"


def _add_slowfast(_C: CfgNode) -> None:
    _C.SLOWFAST = CfgNode()
    # Channel ratio of the Slow pathway to the Fast pathway (Fast has 1/BETA_INV of the channels).
    _C.SLOWFAST.BETA_INV = 8
    # Frame-rate ratio between the Fast and Slow pathways.
    _C.SLOWFAST.ALPHA = 8
    # Channel ratio of the fast-to-slow fusion convolution's output to its input.
    _C.SLOWFAST.FUSION_CONV_CHANNEL_RATIO = 2
    # Temporal kernel size of the fast-to-slow fusion convolution.
    _C.SLOWFAST.FUSION_KERNEL_SZ = 5


def _add_data(_C: CfgNode) -> None:
    _C.DATA = CfgNode()
    # Folder holding the dataset's csv files.
    _C.DATA.PATH_TO_DATA_DIR = ""
    # Separator between path and label in the csv files.
    _C.DATA.PATH_LABEL_SEPARATOR = " "
    # Prefix prepended to every video path in the csv files.
    _C.DATA.PATH_PREFIX = ""
    # Number of frames of the clip fed to the network (the Fast pathway for SlowFast).
    _C.DATA.NUM_FRAMES = 8
    # Temporal stride between sampled frames, in frames at TARGET_FPS.
    _C.DATA.SAMPLING_RATE = 8
    # Each video has several labels (Charades-style).
    _C.DATA.MULTI_LABEL = False
    # How the scores of the test views of one video are combined: "sum" or "max".
    _C.DATA.ENSEMBLE_METHOD = "sum"
    # Mean pixel value of each RGB channel, in [0, 1].
    _C.DATA.MEAN = [0.45, 0.45, 0.45]
    # Input videos may have different fps; sample frames as if they were at this fps.
    _C.DATA.TARGET_FPS = 30
    # Standard deviation of each RGB channel, in [0, 1].
    _C.DATA.STD = [0.225, 0.225, 0.225]
    # Short-side scale range [min, max] for training scale jitter.
    _C.DATA.TRAIN_JITTER_SCALES = [256, 320]
    # Relative area range of random resized crops (used with inverse-uniform sampling, MViT recipes).
    _C.DATA.TRAIN_JITTER_SCALES_RELATIVE = []
    # Aspect ratio range of random resized crops.
    _C.DATA.TRAIN_JITTER_ASPECT_RELATIVE = []
    # Random resized crops: interpolate between a box for the first and one for the last frame.
    _C.DATA.TRAIN_JITTER_MOTION_SHIFT = False
    # Training crop size.
    _C.DATA.TRAIN_CROP_SIZE = 224
    # Test crop size (the short side is scaled to it first).
    _C.DATA.TEST_CROP_SIZE = 256
    # ImageNet with AUG.ENABLE: val/test images get their short side scaled to int(TEST_CROP_SIZE / ratio)
    # (bicubic) before the centre TEST_CROP_SIZE crop; 0.0 resizes straight to TEST_CROP_SIZE squared.
    _C.DATA.IN_VAL_CROP_RATIO = 0.875
    # Number of input channels.
    _C.DATA.INPUT_CHANNEL_NUM = [3, 3]
    # Sample scale jitter uniformly in 1/scale instead of scale.
    _C.DATA.INV_UNIFORM_SAMPLE = False
    # Randomly flip clips horizontally during training.
    _C.DATA.RANDOM_FLIP = True
    # Reverse the colour channels of the input (RGB -> BGR), for models trained on BGR frames.
    _C.DATA.REVERSE_INPUT_CHANNEL = False
    # Video decoding backend: "pyav".
    _C.DATA.DECODING_BACKEND = "pyav"
    # Decoder threads: "none", "auto" or a number of threads (ours).
    _C.DATA.DECODE_THREADS = "none"
    # Test clip k of K starts at k * floor(delta / (K - 1)) (first at the start, last at the end, one
    # clip in the middle) instead of delta * k / K (delta: video frames minus window frames).
    _C.DATA.USE_OFFSET_SAMPLING = False
    # Eigenvalues of the PCA colour jitter.
    _C.DATA.TRAIN_PCA_EIGVAL = [0.225, 0.224, 0.229]
    # Eigenvectors of the PCA colour jitter.
    _C.DATA.TRAIN_PCA_EIGVEC = [
        [-0.5675, 0.7192, 0.4009],
        [-0.5808, -0.0045, -0.8140],
        [-0.5836, -0.6948, 0.4203],
    ]
    # Colour jitter for self-supervised recipes.
    _C.DATA.SSL_COLOR_JITTER = False
    # Short side the decoder may downscale to while decoding (speed option of some backends).
    _C.DATA.DECODING_SHORT_SIZE = 256


def _add_solver(_C: CfgNode) -> None:
    _C.SOLVER = CfgNode()
    # Base learning rate.
    _C.SOLVER.BASE_LR = 0.1
    # Learning rate policy: "cosine", "steps_with_relative_lrs", "constant".
    _C.SOLVER.LR_POLICY = "cosine"
    # Final learning rate of the cosine policy.
    _C.SOLVER.COSINE_END_LR = 0.0
    # Start the cosine schedule after the warmup instead of at epoch 0.
    _C.SOLVER.COSINE_AFTER_WARMUP = False
    # Exponential decay factor (unused by the supported policies, kept for YAML compatibility).
    _C.SOLVER.GAMMA = 0.1
    # Step size for "steps" policies, in epochs.
    _C.SOLVER.STEP_SIZE = 1
    # Epochs at which the step policies change the learning rate.
    _C.SOLVER.STEPS = []
    # Learning rates relative to BASE_LR for each step of steps_with_relative_lrs.
    _C.SOLVER.LRS = []
    # Number of training epochs.
    _C.SOLVER.MAX_EPOCH = 300
    # SGD momentum.
    _C.SOLVER.MOMENTUM = 0.9
    # SGD dampening.
    _C.SOLVER.DAMPENING = 0.0
    # Nesterov momentum.
    _C.SOLVER.NESTEROV = True
    # L2 weight decay.
    _C.SOLVER.WEIGHT_DECAY = 1e-4
    # Start learning rate of the linear warmup.
    _C.SOLVER.WARMUP_FACTOR = 0.1
    # Number of warmup epochs.
    _C.SOLVER.WARMUP_EPOCHS = 0.0
    # Learning rate at the start of the warmup.
    _C.SOLVER.WARMUP_START_LR = 0.01
    # Optimizer: "sgd" or "adamw".
    _C.SOLVER.OPTIMIZING_METHOD = "sgd"
    # Scale BASE_LR by the number of shards (nodes).
    _C.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False
    # Apply zero weight decay to all 1-D parameters (biases, norm weights).
    _C.SOLVER.ZERO_WD_1D_PARAM = False
    # Clip gradients to this value (None disables).
    _C.SOLVER.CLIP_GRAD_VAL = None
    # Clip the L2 norm of the gradients to this value (None disables).
    _C.SOLVER.CLIP_GRAD_L2NORM = None
    # Scale of the learning rate of the layers after the first one (MViT layer decay).
    _C.SOLVER.LAYER_DECAY = 1.0
    # Betas of AdamW.
    _C.SOLVER.BETAS = (0.9, 0.999)


def _add_detection(_C: CfgNode) -> None:
    _C.DETECTION = CfgNode()
    # Whether the model is a detector (AVA).
    _C.DETECTION.ENABLE = False
    # Use aligned RoIAlign (half-pixel offset).
    _C.DETECTION.ALIGNED = True
    # Spatial scale factor of the feature map relative to the input.
    _C.DETECTION.SPATIAL_SCALE_FACTOR = 16
    # Output resolution of RoIAlign.
    _C.DETECTION.ROI_XFORM_RESOLUTION = 7


def _add_ava(_C: CfgNode) -> None:
    _C.AVA = CfgNode()
    # Folder of the extracted frames (one folder per video).
    _C.AVA.FRAME_DIR = "/mnt/fair-flash3-east/ava_trainval_frames.img/"
    # Folder of the frame lists (train.csv, val.csv).
    _C.AVA.FRAME_LIST_DIR = "/mnt/vol/gfsai-flash3-east/ai-group/users/haoqifan/ava/frame_list/"
    # Folder of the annotation files.
    _C.AVA.ANNOTATION_DIR = "/mnt/vol/gfsai-flash3-east/ai-group/users/haoqifan/ava/frame_list/"
    # Frame lists used for training.
    _C.AVA.TRAIN_LISTS = ["train.csv"]
    # Frame lists used for testing.
    _C.AVA.TEST_LISTS = ["val.csv"]
    # Ground-truth box files used for training.
    _C.AVA.TRAIN_GT_BOX_LISTS = ["ava_train_v2.2.csv"]
    # Predicted (detected) box files used for training ([] = ground-truth boxes only).
    _C.AVA.TRAIN_PREDICT_BOX_LISTS = []
    # Predicted (detected) box files used for testing.
    _C.AVA.TEST_PREDICT_BOX_LISTS = ["ava_val_predicted_boxes.csv"]
    # Only boxes with a detection score above this are used.
    _C.AVA.DETECTION_SCORE_THRESH = 0.9
    # Frames are in BGR order (Caffe2-era models).
    _C.AVA.BGR = False
    # Use colour augmentation for training.
    _C.AVA.TRAIN_USE_COLOR_AUGMENTATION = False
    # Only use PCA jitter as colour augmentation.
    _C.AVA.TRAIN_PCA_JITTER_ONLY = True
    # Force horizontal flip at test time.
    _C.AVA.TEST_FORCE_FLIP = False
    # Evaluate on the full validation set instead of a subset.
    _C.AVA.FULL_TEST_ON_VAL = False
    # Label map file of the evaluated classes.
    _C.AVA.LABEL_MAP_FILE = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
    # Excluded timestamps file.
    _C.AVA.EXCLUSION_FILE = "ava_val_excluded_timestamps_v2.2.csv"
    # Ground-truth file for evaluation.
    _C.AVA.GROUNDTRUTH_FILE = "ava_val_v2.2.csv"
    # Ours: the AVA evaluation rule of val/test. "pyslowfast" (PySlowFast's in-engine one: every
    # detection, matched in the order the test loop emits them, box by box) or "activitynet" (the
    # official CLI: top 50 per keyframe, matched in score order); see DATASET.md.
    _C.AVA.EVAL_PROTOCOL = "pyslowfast"
    # Image processing backend: "cv2" or "pytorch".
    _C.AVA.IMG_PROC_BACKEND = "cv2"


def _add_multigrid(_C: CfgNode) -> None:
    _C.MULTIGRID = CfgNode()
    # Multigrid training epoch factor.
    _C.MULTIGRID.EPOCH_FACTOR = 1.5
    # Enable the short cycle.
    _C.MULTIGRID.SHORT_CYCLE = False
    # Short cycle additional spatial dimensions relative to the default crop size.
    _C.MULTIGRID.SHORT_CYCLE_FACTORS = [0.5, 0.5**0.5]
    # Enable the long cycle.
    _C.MULTIGRID.LONG_CYCLE = False
    # Long cycle (temporal, spatial) scale factors.
    _C.MULTIGRID.LONG_CYCLE_FACTORS = [
        (0.25, 0.5**0.5),
        (0.5, 0.5**0.5),
        (0.5, 1),
        (1, 1),
    ]
    # BN sub-batch size of the long cycle.
    _C.MULTIGRID.BN_BASE_SIZE = 8
    # Multigrid training uses sampling at every epoch.
    _C.MULTIGRID.EVAL_FREQ = 3
    # Sampling rate of the long cycle.
    _C.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 0
    # Default batch size.
    _C.MULTIGRID.DEFAULT_B = 0
    # Default number of frames.
    _C.MULTIGRID.DEFAULT_T = 0
    # Default crop size.
    _C.MULTIGRID.DEFAULT_S = 0


def _add_data_loader(_C: CfgNode) -> None:
    _C.DATA_LOADER = CfgNode()
    # Number of data loader worker processes per training process.
    _C.DATA_LOADER.NUM_WORKERS = 8
    # Pin memory for faster host-to-device copies.
    _C.DATA_LOADER.PIN_MEMORY = True
    # Enable multi-thread decoding.
    _C.DATA_LOADER.ENABLE_MULTI_THREAD_DECODE = False
    # Times a failed video is replaced by another random one before the item fails (ours).
    _C.DATA_LOADER.NUM_RETRIES = 10


def _add_tensorboard(_C: CfgNode) -> None:
    _C.TENSORBOARD = CfgNode()
    # Log to tensorboard (scalars; the visualisations below need it too).
    _C.TENSORBOARD.ENABLE = False
    # Folder of the tensorboard runs ("" = OUTPUT_DIR/runs-<dataset>).
    _C.TENSORBOARD.LOG_DIR = ""
    # Class names file (json) for tensorboard visualisations.
    _C.TENSORBOARD.CLASS_NAMES_PATH = ""
    # Path of the category file for visualisations.
    _C.TENSORBOARD.CATEGORIES_PATH = ""
    # Log a confusion matrix.
    _C.TENSORBOARD.CONFUSION_MATRIX = CfgNode()
    # Whether to log the confusion matrix.
    _C.TENSORBOARD.CONFUSION_MATRIX.ENABLE = False
    # Figure size of the confusion matrix.
    _C.TENSORBOARD.CONFUSION_MATRIX.FIGSIZE = [8, 8]
    # Subset of classes for the confusion matrix.
    _C.TENSORBOARD.CONFUSION_MATRIX.SUBSET_PATH = ""
    # Histogram of the top-k predictions.
    _C.TENSORBOARD.HISTOGRAM = CfgNode()
    # Whether to log histograms.
    _C.TENSORBOARD.HISTOGRAM.ENABLE = False
    # Subset of classes for histograms.
    _C.TENSORBOARD.HISTOGRAM.SUBSET_PATH = ""
    # Top-k for histograms.
    _C.TENSORBOARD.HISTOGRAM.TOPK = 10
    # Figure size of histograms.
    _C.TENSORBOARD.HISTOGRAM.FIGSIZE = [8, 8]
    # Model visualisation.
    _C.TENSORBOARD.MODEL_VIS = CfgNode()
    # Whether to visualise the model.
    _C.TENSORBOARD.MODEL_VIS.ENABLE = False
    # Visualise model weights.
    _C.TENSORBOARD.MODEL_VIS.MODEL_WEIGHTS = False
    # Visualise activations.
    _C.TENSORBOARD.MODEL_VIS.ACTIVATIONS = False
    # Visualise inputs.
    _C.TENSORBOARD.MODEL_VIS.INPUT_VIDEO = False
    # Layers to visualise.
    _C.TENSORBOARD.MODEL_VIS.LAYER_LIST = []
    # Top-k predictions to visualise.
    _C.TENSORBOARD.MODEL_VIS.TOPK_PREDS = 1
    # Colormap of visualisations.
    _C.TENSORBOARD.MODEL_VIS.COLORMAP = "Pastel2"
    # Grad-CAM visualisation.
    _C.TENSORBOARD.MODEL_VIS.GRAD_CAM = CfgNode()
    # Whether to use Grad-CAM.
    _C.TENSORBOARD.MODEL_VIS.GRAD_CAM.ENABLE = True
    # Layers used by Grad-CAM.
    _C.TENSORBOARD.MODEL_VIS.GRAD_CAM.LAYER_LIST = []
    # Use true labels instead of predictions for Grad-CAM.
    _C.TENSORBOARD.MODEL_VIS.GRAD_CAM.USE_TRUE_LABEL = False
    # Colormap for Grad-CAM.
    _C.TENSORBOARD.MODEL_VIS.GRAD_CAM.COLORMAP = "viridis"
    # Wrong-prediction visualisation.
    _C.TENSORBOARD.WRONG_PRED_VIS = CfgNode()
    # Whether to visualise wrong predictions.
    _C.TENSORBOARD.WRONG_PRED_VIS.ENABLE = False
    # Tag for wrong-prediction visualisation.
    _C.TENSORBOARD.WRONG_PRED_VIS.TAG = "Incorrectly classified videos."
    # Subset of classes for wrong-prediction visualisation.
    _C.TENSORBOARD.WRONG_PRED_VIS.SUBSET_PATH = ""


def _add_demo(_C: CfgNode) -> None:
    _C.DEMO = CfgNode()
    # Run the demo.
    _C.DEMO.ENABLE = False
    # Label file path (json: name -> id).
    _C.DEMO.LABEL_FILE_PATH = ""
    # Webcam id (-1 = read DEMO.INPUT_VIDEO).
    _C.DEMO.WEBCAM = -1
    # Input video path.
    _C.DEMO.INPUT_VIDEO = ""
    # Display width.
    _C.DEMO.DISPLAY_WIDTH = 0
    # Display height.
    _C.DEMO.DISPLAY_HEIGHT = 0
    # Detectron2 config of the person detector (AVA demo); detectron2 is not used: must stay the default.
    _C.DEMO.DETECTRON2_CFG = "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml"
    # Local state dict of torchvision's fasterrcnn_resnet50_fpn, the person detector (never downloaded).
    _C.DEMO.DETECTRON2_WEIGHTS = ""
    # Score threshold of the person detector.
    _C.DEMO.DETECTRON2_THRESH = 0.9
    # Number of overlapping frames between consecutive clips.
    _C.DEMO.BUFFER_SIZE = 0
    # Output file ("" = display).
    _C.DEMO.OUTPUT_FILE = ""
    # Output frames per second.
    _C.DEMO.OUTPUT_FPS = -1
    # Input format: "BGR" or "RGB".
    _C.DEMO.INPUT_FORMAT = "BGR"
    # Boxes are drawn on the frames within this many frames of their keyframe (detection demos).
    _C.DEMO.CLIP_VIS_SIZE = 10
    # Drawing threads of the writer (DEMO.THREAD_ENABLE).
    _C.DEMO.NUM_VIS_INSTANCES = 2
    # Path to pre-computed predictions.
    _C.DEMO.PREDS_BOXES = ""
    # Read, predict and draw/write in separate threads (frames are never dropped).
    _C.DEMO.THREAD_ENABLE = False
    # Take one clip every this many frames.
    _C.DEMO.NUM_CLIPS_SKIP = 0
    # Ground-truth boxes for visualisation.
    _C.DEMO.GT_BOXES = ""
    # Starting second of the video.
    _C.DEMO.STARTING_SECOND = 900
    # Frames per second of an input whose stream does not say.
    _C.DEMO.FPS = 30
    # Visualisation mode: "thres" or "top-k".
    _C.DEMO.VIS_MODE = "thres"
    # Common class threshold.
    _C.DEMO.COMMON_CLASS_THRES = 0.7
    # Uncommon class threshold.
    _C.DEMO.UNCOMMON_CLASS_THRES = 0.3
    # Names of the common classes.
    _C.DEMO.COMMON_CLASS_NAMES = [
        "watch (a person)",
        "talk to (e.g., self, a person, a group)",
        "listen to (a person)",
        "touch (an object)",
        "carry/hold (an object)",
        "walk",
        "sit",
        "lie/sleep",
        "bend/bow (at the waist)",
    ]
    # Slow down the output video.
    _C.DEMO.SLOWMO = 1


def _add_benchmark(_C: CfgNode) -> None:
    _C.BENCHMARK = CfgNode()
    # Number of epochs for the data loading benchmark.
    _C.BENCHMARK.NUM_EPOCHS = 5
    # Log period in iterations of the data loading benchmark.
    _C.BENCHMARK.LOG_PERIOD = 100
    # Shuffle the data in the benchmark.
    _C.BENCHMARK.SHUFFLE = True


def _add_synthetic(_C: CfgNode) -> None:
    _C.SYNTHETIC = CfgNode()
    # Number of motion classes of the synthetic dataset (ours).
    _C.SYNTHETIC.NUM_CLASSES = 4
    # Number of training videos (ours).
    _C.SYNTHETIC.NUM_TRAIN = 96
    # Number of validation videos (ours).
    _C.SYNTHETIC.NUM_VAL = 32
    # Number of test videos (ours).
    _C.SYNTHETIC.NUM_TEST = 32
    # Frame height in pixels (ours).
    _C.SYNTHETIC.HEIGHT = 112
    # Frame width in pixels (ours).
    _C.SYNTHETIC.WIDTH = 112
    # Frames per video (ours).
    _C.SYNTHETIC.NUM_FRAMES = 48
    # Frames per second of the written videos (ours).
    _C.SYNTHETIC.FPS = 24
    # Random seed of the generator (ours).
    _C.SYNTHETIC.SEED = 0


def _add_top_level(_C: CfgNode) -> None:
    # Number of GPUs per machine (0 = train and test on the CPU).
    _C.NUM_GPUS = 1
    # Number of machines (shards) of the job.
    _C.NUM_SHARDS = 1
    # Index of this machine among the shards.
    _C.SHARD_ID = 0
    # Folder of logs, checkpoints and results.
    _C.OUTPUT_DIR = "./tmp"
    # Seed of every random number generator (each rank adds its rank).
    _C.RNG_SEED = 1
    # Log every this many iterations.
    _C.LOG_PERIOD = 10
    # Log the model's statistics (parameters, FLOPs, activations) at start-up.
    _C.LOG_MODEL_INFO = True
    # Distributed backend: "nccl" (GPU) or "gloo" (CPU). Chosen from NUM_GPUS when left empty (ours).
    _C.DIST_BACKEND = "nccl"
    # Number of CPU processes in the single-machine CPU multi-process mode (ours; 0 or 1 = one process).
    _C.NUM_CPU_PROCESSES = 1
    # Port used by the single-command multi-process launch on localhost (ours; 0 = pick a free port).
    _C.DIST_PORT = 0
    # Description of the run, logged at start-up.
    _C.DESCRIPTION = ""
    # Name of the task, prefixed to checkpoint file names ("<TASK>_checkpoint_epoch_N.pyth") when set.
    # "classification" and "detection" must agree with DETECTION.ENABLE; "ssl" (self-supervised
    # contrastive pre-training) is not supported.
    _C.TASK = ""


def build_defaults() -> CfgNode:
    """Build a fresh default config tree."""
    _C = CfgNode()
    _add_top_level(_C)
    _add_bn(_C)
    _add_train(_C)
    _add_aug(_C)
    _add_mixup(_C)
    _add_test(_C)
    _add_resnet(_C)
    _add_x3d(_C)
    _add_nonlocal(_C)
    _add_model(_C)
    _add_mvit(_C)
    _add_slowfast(_C)
    _add_data(_C)
    _add_solver(_C)
    _add_detection(_C)
    _add_ava(_C)
    _add_multigrid(_C)
    _add_data_loader(_C)
    _add_tensorboard(_C)
    _add_demo(_C)
    _add_benchmark(_C)
    _add_synthetic(_C)
    add_missing_keys(_C)
    return _C


_C = build_defaults()


def get_cfg() -> CfgNode:
    """Return a copy of the default config, ready to be merged with YAML files and overrides."""
    return _C.clone()
