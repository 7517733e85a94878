"""Inception with factorized asymmetric convolutions (1xk followed by kx1) in parallel branches."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 32
DEPTH = 1
STAGES = 3
KERNEL = 3
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
DOWNSAMPLE = nn.MaxPool2d
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


class AsymmetricConv(nn.Module):
    def __init__(self, in_channels, channels):
        super().__init__()
        self.row = nn.Conv2d(in_channels, channels, (1, KERNEL), 1, (0, KERNEL // 2), bias=False)
        self.column = nn.Conv2d(channels, channels, (KERNEL, 1), 1, (KERNEL // 2, 0), bias=False)
        self.norm = NORM(channels)
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.column(self.row(x))))


class InceptionBlock(nn.Module):
    def __init__(self, in_channels, channels):
        super().__init__()
        branch = channels // 4
        self.branch1 = ConvBlock(in_channels, branch, 1)
        self.branch2 = nn.Sequential(ConvBlock(in_channels, branch, 1), AsymmetricConv(branch, branch))
        self.branch3 = nn.Sequential(ConvBlock(in_channels, branch, 1), AsymmetricConv(branch, branch), AsymmetricConv(branch, branch))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), ConvBlock(in_channels, branch, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


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
            if stage > 0 and size >= 4:
                layers.append(DOWNSAMPLE(2))
                size = size // 2
            for index in range(DEPTH):
                layers.append(InceptionBlock(channels, width))
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
