"""Image data: in-memory data sets, CIFAR-10 and Fashion-MNIST loaders, the embedded test set,
on-device augmentation and a resumable batch stream."""

from .augment import CIFAR10_MEAN, CIFAR10_STD, augment, normalize, random_crop_flip
from .cifar10 import CIFAR10_CLASSES, ENV_VAR, default_download_root, find_cifar10, load_cifar10
from .embedded import EMBEDDED_PATH, load_embedded
from .fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from .folder import load_image_folder
from .imageset import DatasetNotFoundError, ImageSet
from .load import EMBEDDED, load_dataset
from .stream import BatchStream

__all__ = [
    "ImageSet", "DatasetNotFoundError",
    "load_cifar10", "load_image_folder", "load_embedded", "load_dataset", "load_fashion_mnist",
    "find_cifar10", "default_download_root", "ENV_VAR", "EMBEDDED", "EMBEDDED_PATH",
    "CIFAR10_CLASSES", "FASHION_MNIST_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD",
    "normalize", "random_crop_flip", "augment",
    "BatchStream",
]
