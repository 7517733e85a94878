"""MobileNet v3: inverted residuals with hard-swish, hard-sigmoid squeeze-and-excitation and larger kernels later on."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 16
DEPTH = 1
STAGES = 3
KERNEL = 3
EXPANSION = 4
REDUCTION = 4
ACTIVATION = nn.Hardswish
NORM = nn.BatchNorm2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class ConvBlock(nn.Module):
    def __init__(self, in_channels, channels, kernel_size=KERNEL, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.norm = NORM(channels)
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class SqueezeExcite(nn.Module):
    def __init__(self, channels):
        super().__init__()
        hidden = max(8, channels // REDUCTION)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1), nn.Hardsigmoid())

    def forward(self, x):
        return x * self.gate(x)


class InvertedResidual(nn.Module):
    def __init__(self, in_channels, channels, kernel_size, stride=1):
        super().__init__()
        hidden = in_channels * EXPANSION
        self.expand = ConvBlock(in_channels, hidden, 1)
        self.depthwise = ConvBlock(hidden, hidden, kernel_size, stride, hidden)
        self.excite = SqueezeExcite(hidden)
        self.project = nn.Conv2d(hidden, channels, 1, bias=False)
        self.norm = NORM(channels)
        self.residual = stride == 1 and in_channels == channels

    def forward(self, x):
        out = self.norm(self.project(self.excite(self.depthwise(self.expand(x)))))
        return x + out if self.residual else out


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = ConvBlock(in_channels, channels, KERNEL, stride)
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            stride = 2 if stage > 0 and size >= 4 else 1
            size = size // stride
            kernel_size = KERNEL if stage == 0 else KERNEL + 2
            for index in range(DEPTH):
                layers.append(InvertedResidual(channels, width, kernel_size, stride if index == 0 else 1))
                channels = width
        layers.append(ConvBlock(channels, channels * 4, 1))
        channels = channels * 4
        self.body = nn.Sequential(*layers)
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
