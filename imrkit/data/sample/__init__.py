"""The embedded sample dataset: a procedurally generated *human action* dataset.

``make_sample(dst)`` writes a labelled video dataset in UCF-101's layout, plus a larger
unlabeled pool for pretraining (as Kinetics is to UCF-101), so that every command of the kit
(pretraining, finetuning, retrieval, the notebooks) runs without a download::

    dst/classInd.txt                              "1 WaveOneArm" ...
    dst/trainlist01.txt                           "WaveOneArm/v_WaveOneArm_g21_c01.avi 1" ...
    dst/testlist01.txt                            "WaveOneArm/v_WaveOneArm_g01_c01.avi" ...
    dst/WaveOneArm/v_WaveOneArm_g01_c01.avi       MPEG-4 Part 2, 12-frame GOPs (SPEC section 1)
    dst/unlabeled/v_unlabeled_00000.avi ...       the pretraining pool (no labels)
    dst/sample.json                               the SampleConfig (written last)

Read the labelled splits with ``DatasetConfig(root=dst)`` (format "ucf101", detected from
``classInd.txt``) and the pool with ``DatasetConfig(root=dst / "unlabeled",
format="unlabeled")``: every video under that folder, label -1.

**The actor.** Every video shows a stick figure (torso, head, two arms of two segments, two
legs of two segments) seen from the front, drawn with anti-aliased OpenCV primitives at
sub-pixel precision. The ten classes differ the way human actions do, by *where* the body
moves and *how*:

==============  ==========================  =======================================
class           where                       how
==============  ==========================  =======================================
WaveOneArm      one arm (either side)       periodic, 8-12 frames per wave
WaveBothArms    both arms, overhead         periodic, 8-12 frames
Clap            both forearms, to the chest periodic, fast (6-10 frames)
JumpingJacks    arms and legs together      periodic, 12-18 frames
Squat           whole body, vertical        periodic, slow (16-24 frames)
WalkInPlace     legs alternate              periodic, slow, low knees (13-18 frames)
RunInPlace      legs alternate, arms pump   periodic, fast, high knees (7-10 frames)
Jump            whole body, vertical        one-off, at a random time
Kick            one leg (either side)       one-off, at a random time
Spin            whole body turns            periodic (14-22 frames per turn)
==============  ==========================  =======================================

Tempos are about twice a real person's at 30 fps: at 64 px a hand must move a pixel or more
per frame to show in half-pel 8x8 motion vectors. Hands and feet are drawn as discs and the
limbs carry stripes, so block matching can follow them.

Limbs the class does not move hold a pose drawn from one distribution shared by every class
(an arm may hang, stick out or point up in any class), so a single frame does not tell the
class. Rhythms are not stationary: the tempo and amplitude of periodic actions drift within
a clip and one-off events happen at a random time inside every 5-GOP window of the video, so
the P-frames of one GOP belong with that GOP's I-frame (what CTP has to learn). The camera
pans over the textured background at a speed and direction that change within the clip,
shakes slightly, and one to three distractor objects wander around.

**Flip invariance.** Every class is mirror-symmetric: one-sided actions (WaveOneArm, Kick)
pick their side at random with probability 1/2, and nothing else is left/right or
clockwise-specific, so the default random horizontal flip (``imrkit.transforms``) maps a
clip of a class to another valid clip of the same class.

**Appearance.** Colours (clothes, skin, background, distractors), textures, the actor's size
and position and the background are drawn from one distribution shared by all classes.

**Splits.** Labelled clips come in groups ``gGG`` that share a background and actor, like
UCF-101's; a group is entirely in the training or the test list. Test groups hold
``test_clips_per_group`` clips (1 by default: every test clip has its own background and
actor, so test clips are independent samples). The unlabeled pool draws classes uniformly
at random, each video with its own background.

Generation is deterministic: a video's random stream is seeded by ``(seed, kind, class,
video)`` only, so the same seed gives byte-identical files whatever the number of workers.

The package reads bottom-up: :mod:`~imrkit.data.sample.actor` (each class's joint angles, the
skeleton, drawing the figure), :mod:`~imrkit.data.sample.layout` (classes, the config, groups
and splits, file names), :mod:`~imrkit.data.sample.scene` (a video's content and its frames),
:mod:`~imrkit.data.sample.writer` (encoding, the split files, caching).
"""

from imrkit.data.sample.actor import (
    CLIP_GOPS,
    JOINTS,
    ONE_OFF_CLASSES,
    Pose,
    action_pose,
    draw_actor,
    event_window,
    skeleton,
)
from imrkit.data.sample.layout import (
    CLASS_NAMES,
    SAMPLE_INFO,
    UNLABELED_FOLDER,
    SampleConfig,
    clip_of,
    group_of,
    is_test_group,
    is_test_video,
    unlabeled_class,
    unlabeled_name,
    video_name,
)
from imrkit.data.sample.scene import (
    Scene,
    build_scene,
    make_scene,
    make_unlabeled_scene,
    random_texture,
    render_video,
)
from imrkit.data.sample.writer import (
    GENERATOR_VERSION,
    ensure_sample,
    load_sample_config,
    make_sample,
)

__all__ = [
    "CLASS_NAMES",
    "CLIP_GOPS",
    "GENERATOR_VERSION",
    "JOINTS",
    "ONE_OFF_CLASSES",
    "Pose",
    "SAMPLE_INFO",
    "SampleConfig",
    "Scene",
    "UNLABELED_FOLDER",
    "action_pose",
    "build_scene",
    "clip_of",
    "draw_actor",
    "ensure_sample",
    "event_window",
    "group_of",
    "is_test_group",
    "is_test_video",
    "load_sample_config",
    "make_sample",
    "make_scene",
    "make_unlabeled_scene",
    "random_texture",
    "render_video",
    "skeleton",
    "unlabeled_class",
    "unlabeled_name",
    "video_name",
]
