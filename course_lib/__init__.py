"""course_lib: the small numpy package behind the workbook.

Every gradient here is written by hand and checked against finite differences.
"""
from .functions import (
    ACTIVATIONS, binary_cross_entropy, cross_entropy, improved_sigmoid, improved_sigmoid_grad,
    log_softmax, relu, relu_grad, sigmoid, sigmoid_grad, softmax, softmax_cross_entropy,
    softmax_jacobian, tanh, tanh_grad,
)
from .gradcheck import GradCheck, check_function, check_model, check_scalar_function, numerical_gradient, rel_error
from .initializers import INITIALIZERS, init_weights
from .layers import Activation, ImprovedSigmoid, Layer, Linear, ReLU, Sigmoid, Tanh
from .network import Sequential, count_params, mlp, parse_sizes
from .optim import SGD, Momentum, make_optimizer
from .train import Callback, History, Trainer, evaluate, train
from .callbacks import ProgressBar
from .panel import TrainingPanel
from . import blas, datasets, experiments, plots, scalar

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "binary_cross_entropy",
    "blas",
    "Callback",
    "check_function",
    "check_model",
    "check_scalar_function",
    "count_params",
    "cross_entropy",
    "datasets",
    "evaluate",
    "experiments",
    "GradCheck",
    "History",
    "improved_sigmoid",
    "improved_sigmoid_grad",
    "ImprovedSigmoid",
    "init_weights",
    "INITIALIZERS",
    "Layer",
    "Linear",
    "log_softmax",
    "make_optimizer",
    "mlp",
    "Momentum",
    "numerical_gradient",
    "parse_sizes",
    "plots",
    "ProgressBar",
    "rel_error",
    "relu",
    "ReLU",
    "relu_grad",
    "scalar",
    "Sequential",
    "SGD",
    "sigmoid",
    "Sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_cross_entropy",
    "softmax_jacobian",
    "Tanh",
    "tanh",
    "tanh_grad",
    "train",
    "Trainer",
    "TrainingPanel",
]
