"""The names of the registered datasets, importable without torch (the config's choices; the registry's keys).

    from nngpt_core.data.names import DATASET_NAMES     # ('digits', 'digits32', 'cifar10', ...)
"""

DATASET_NAMES = ("digits", "digits32", "cifar10", "cifar100", "svhn", "mnist", "fashionmnist")
