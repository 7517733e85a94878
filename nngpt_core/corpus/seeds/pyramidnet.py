"""PyramidNet: the width grows a little with every block; shortcuts zero-pad the new channels."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 16
DEPTH = 2
STAGES = 3
KERNEL = 3
ALPHA = 48
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
DOWNSAMPLE = nn.AvgPool2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class PyramidBlock(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.extra = channels - in_channels
        self.residual = nn.Sequential(
            NORM(in_channels),
            nn.Conv2d(in_channels, channels, KERNEL, stride, KERNEL // 2, bias=False),
            NORM(channels),
            ACTIVATION(),
            nn.Conv2d(channels, channels, KERNEL, 1, KERNEL // 2, bias=False),
            NORM(channels),
        )
        self.shortcut = DOWNSAMPLE(2) if stride > 1 else nn.Identity()

    def forward(self, x):
        shortcut = F.pad(self.shortcut(x), (0, 0, 0, 0, 0, self.extra))
        return self.residual(x) + shortcut


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
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, KERNEL, stride, KERNEL // 2, bias=False), NORM(channels))
        step = ALPHA / (STAGES * DEPTH)
        layers = []
        for stage in range(STAGES):
            stride = 2 if stage > 0 and size >= 4 else 1
            size = size // stride
            for index in range(DEPTH):
                width = round(WIDTH + step * (stage * DEPTH + index + 1))
                layers.append(PyramidBlock(channels, width, stride if index == 0 else 1))
                channels = width
        layers.append(NORM(channels))
        layers.append(ACTIVATION())
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
