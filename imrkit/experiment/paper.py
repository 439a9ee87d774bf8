"""The paper's own figures for the arms our suites run (UCF-101 top-1, %, IMRNet-R18).

Table 3 (self-supervised: pretrained on Kinetics-400, finetuned on UCF-101) and Table 1
(supervised from scratch, connection ablations), as printed in the ICLR 2021 paper; keys
are our arm names (:mod:`imrkit.experiment.suite`). Cited beside our miniature suites, never
compared with them as numbers of the same experiment.
"""

from __future__ import annotations

#: Table 3, UCF-101 top-1 after finetuning (the scratch row is Table 1's IMRNet-R18).
TABLE3_UCF101 = {
    "scratch": 74.1,
    "pmsp": 76.0,
    "ctp": 76.7,
    "ctp_binary": 74.6,
    "pmsp+ctp": 76.8,
    "rotation": 75.1,
    "aot": 74.6,
    "infonce": 73.9,
}

#: Table 1, UCF-101 top-1 from scratch, by connection mode ("scratch" is full connections).
TABLE1_UCF101 = {
    "scratch": 74.1,
    "scratch/none": 52.7,
    "scratch/unidirectional": 69.7,
    "scratch/no_conv": 71.7,
    "scratch/no_attention": 73.2,
}

#: every arm the paper reports a UCF-101 figure for
UCF101_TOP1 = {**TABLE3_UCF101, **TABLE1_UCF101}
