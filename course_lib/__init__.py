"""course_lib: the lesson. The numpy code the notebooks derive, and nothing else.

Every gradient is written by hand and checked against finite differences. It
imports numpy and the standard library only; everything around the lesson
(panels, plots, downloads, PDF export, the fast path) is in ``workbook_tools``.

Where each piece is taught:

=================  ==============================================================
``activations``    01 Derivatives: sigmoid, tanh, ReLU, improved sigmoid
``losses``         01 Derivatives: softmax, cross-entropy, binary cross-entropy
``gradcheck``      01 Derivatives: central differences, relative error, a verdict
``scalar``         02 Scalar backprop: the 2-layer network in plain Python
``layers``         03 Tensor backprop, 04 Batched training: Linear, activations; 08: Flatten, Dropout
``network``        03-04, 07: Sequential networks, parameters by name
``optim``          02-04: SGD; 06: momentum; 08: Adagrad, Adam
``training``       04 Batched training: the loop, history, callbacks, early stopping
``init``           06 Regularisation: initialisers; one random-generator policy
``conv``           08 Convolutional networks: convolution, max-pooling, the course's CNN
``data``           03, 06: scaling, standardising, splits; synthetic sets
``validate``       all: whole numbers and positive numbers, one clear error for a bad one
=================  ==============================================================
"""
from . import conv, data, scalar
from .activations import (
    ACTIVATIONS, improved_sigmoid, improved_sigmoid_grad, leaky_relu, leaky_relu_grad, relu, relu_grad, sigmoid,
    sigmoid_grad, tanh, tanh_grad,
)
from .conv import Conv2D, MaxPool2D, Maxout, cnn, course_cnn
from .gradcheck import GradCheck, check_function, check_model, check_scalar_function, numerical_gradient, rel_error
from .init import INITIALIZERS, as_rng, init_kernel, init_weights
from .layers import Activation, Dropout, Flatten, ImprovedSigmoid, Layer, Linear, ReLU, Sigmoid, Tanh
from .losses import (
    binary_cross_entropy, check_labels, cross_entropy, log_softmax, softmax, softmax_cross_entropy, softmax_jacobian,
)
from .network import Sequential, count_params, mlp, parse_sizes
from .optim import SGD, Adagrad, Adam, Momentum
from .training import Callback, EarlyStopping, History, Loop, Trainer, batches, evaluate, train

__version__ = "0.2.0"

__all__ = [
    "ACTIVATIONS", "Activation", "Adagrad", "Adam", "Callback", "Conv2D", "Dropout", "EarlyStopping", "Flatten",
    "GradCheck", "History", "INITIALIZERS", "ImprovedSigmoid", "Layer", "Linear", "Loop", "MaxPool2D", "Maxout",
    "Momentum", "ReLU", "SGD", "Sequential", "Sigmoid", "Tanh", "Trainer", "as_rng", "batches",
    "binary_cross_entropy", "check_function", "check_labels", "check_model", "check_scalar_function", "cnn", "conv",
    "count_params", "course_cnn", "cross_entropy", "data", "evaluate", "improved_sigmoid", "improved_sigmoid_grad",
    "init_kernel", "init_weights", "leaky_relu", "leaky_relu_grad", "log_softmax", "mlp", "numerical_gradient",
    "parse_sizes",
    "rel_error", "relu", "relu_grad", "scalar", "sigmoid", "sigmoid_grad", "softmax", "softmax_cross_entropy",
    "softmax_jacobian", "tanh", "tanh_grad", "train",
]
