"""GhostNet: ghost modules make half their feature maps with a cheap depthwise convolution of the other half."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 16
DEPTH = 2
STAGES = 3
KERNEL = 3
EXPANSION = 3
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class GhostModule(nn.Module):
    def __init__(self, in_channels, channels, activate=True):
        super().__init__()
        half = channels // 2
        act = ACTIVATION() if activate else nn.Identity()
        self.primary = nn.Sequential(nn.Conv2d(in_channels, half, 1, bias=False), NORM(half), act)
        self.cheap = nn.Sequential(nn.Conv2d(half, half, KERNEL, 1, KERNEL // 2, groups=half, bias=False), NORM(half), act)

    def forward(self, x):
        x = self.primary(x)
        return torch.cat([x, self.cheap(x)], 1)


class GhostBottleneck(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        hidden = in_channels * EXPANSION
        self.expand = GhostModule(in_channels, hidden)
        self.depthwise = nn.Identity()
        if stride > 1:
            self.depthwise = nn.Sequential(nn.Conv2d(hidden, hidden, KERNEL, stride, KERNEL // 2, groups=hidden, bias=False), NORM(hidden))
        self.project = GhostModule(hidden, channels, activate=False)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False), NORM(channels))

    def forward(self, x):
        return self.project(self.depthwise(self.expand(x))) + self.shortcut(x)


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
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, KERNEL, stride, KERNEL // 2, bias=False), NORM(channels), ACTIVATION())
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            stride = 2 if stage > 0 and size >= 4 else 1
            size = size // stride
            for index in range(DEPTH):
                layers.append(GhostBottleneck(channels, width, stride if index == 0 else 1))
                channels = width
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
